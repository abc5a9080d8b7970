// Command lector is the Lector OCR service, its runner processes and its CLI.
package main

import "github.com/lector-ocr/lector/internal/cli"

func main() { cli.Main() }
