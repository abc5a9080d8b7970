package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/lector-ocr/lector"
	"github.com/lector-ocr/lector/internal/api"
)

// The client submits a document with its options as form fields and reads
// the task back; here a stand-in for `lector serve` answers.
func ExampleClient_Submit() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseMultipartForm(1 << 20)
		t := lector.Task{ID: "t1", Status: lector.Queued, Pipeline: lector.Pipeline(r.FormValue("pipeline")),
			Model: r.FormValue("model"), Formats: strings.Split(r.FormValue("formats"), ",")}
		w.WriteHeader(http.StatusAccepted)
		_ = json.NewEncoder(w).Encode(t)
	}))
	defer srv.Close()

	c := api.NewClient(srv.URL)
	t, err := c.Submit(context.Background(), "scan.png", strings.NewReader("…"), api.Options{
		Pipeline: "structure", Model: "structure:default", Formats: "md,html",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(t.ID, t.Status, t.Pipeline, t.Model, t.Formats, t.Final())
	// Output: t1 queued structure structure:default [md html] false
}
