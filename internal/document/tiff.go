package document

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strconv"

	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/errcode"
)

// TIFF is a (possibly multi-page) TIFF; each page goes to the engine as the
// whole file with its page index.
type TIFF struct {
	data  []byte
	sizes [][2]int
	dpi   []int // each page's XResolution in dots per inch; 0 unknown
	bits  []int // each page's bits per pixel (BitsPerSample × SamplesPerPixel)
	ydpi  []int // each page's YResolution in dots per inch; 0 unknown
	g4    []g4Page
	dir   string // the task's workspace (for tiffcp)
	lim   Limits
}

// g4Page is where a page coded as CCITT Group 4 (TIFF 6.0 §11, Compression
// 4) keeps its coded data.
type g4Page struct {
	ok       bool  // bilevel G4 that PDF's CCITTFaxDecode reads (no uncompressed mode)
	strips   int   // how many strips the data is cut into
	off, n   int64 // the single strip's offset and byte count (strips == 1)
	blackIs1 bool  // PhotometricInterpretation 1 (BlackIsZero: the coder's white runs print black)
	reversed bool  // FillOrder 2: the bits of each byte lowest first
	// comp, photo, spp are the page's Compression, PhotometricInterpretation
	// and SamplesPerPixel (TIFF 6.0 tags 259, 262, 277).
	comp, photo, spp int
	// tables, tablesN: where the page's JPEGTables (tag 347, Technical
	// Note 2) are, when it has them.
	tables, tablesN int64
	// stripOffs, stripLens are every strip's offset and byte count
	// (StripOffsets, StripByteCounts), and rowsPerStrip RowsPerStrip (tag
	// 278; 0 when absent: one strip), for a JPEG page cut in strips
	// (jpegStrips); nil where the arrays are not in the file.
	stripOffs, stripLens []int64
	rowsPerStrip         int
	// fax: a bilevel page coded as CCITT (Compression 2, 3 or 4) that
	// libtiff's tiffcp can re-code as G4 without loss where it cannot pass
	// through as it is (Group 3, which the PDF library's decoder of the
	// TIFF failed on: "ccitt: invalid code").
	fax bool
}

// openTIFF walks the IFD chain for page sizes without decoding pixels.
func openTIFF(data []byte, lim Limits, dir string) (*TIFF, error) {
	var bo binary.ByteOrder = binary.LittleEndian
	if data[0] == 'M' {
		bo = binary.BigEndian
	}
	bad := func(why string) error { return errcode.New(errcode.InvalidDocument, "the TIFF is corrupt: %s", why) }
	if len(data) < 8 {
		return nil, bad("short header")
	}
	off := int64(bo.Uint32(data[4:8]))
	seen := map[int64]bool{}
	t := &TIFF{data: data, dir: dir, lim: lim}
	for off != 0 {
		if seen[off] {
			return nil, bad("a loop in its page list")
		}
		seen[off] = true
		if off+2 > int64(len(data)) {
			return nil, bad("a page offset past the end")
		}
		n := int64(bo.Uint16(data[off:]))
		end := off + 2 + n*12
		if end+4 > int64(len(data)) {
			return nil, bad("a page directory past the end")
		}
		var w, h int
		var xres, yres float64
		unit := 2 // ResolutionUnit's default: the inch
		comp, photo, fill, bits, spp, t6 := 1, -1, 1, 1, 1, 0
		var strips, counts, rows int
		var stripOff, stripLen, tables, tablesN int64
		var stripOffs, stripLens []int64
		multi := false // BitsPerSample has one value per sample (at an offset)
		for e := range n {
			p := off + 2 + e*12
			tag, typ := bo.Uint16(data[p:]), bo.Uint16(data[p+2:])
			count := int(bo.Uint32(data[p+4:]))
			var v int
			switch typ {
			case 3: // SHORT
				v = int(bo.Uint16(data[p+8:]))
			case 4: // LONG
				v = int(bo.Uint32(data[p+8:]))
			}
			switch tag {
			case 256:
				w = v
			case 257:
				h = v
			case 258: // BitsPerSample: one per sample, inline only when one
				bits, multi = v, count > 1
			case 259:
				comp = v
			case 262:
				photo = v
			case 266:
				fill = v
			case 273: // StripOffsets: the value itself when there is one
				strips, stripOff = count, int64(v)
				stripOffs = tiffArray(data, bo, p, typ, count)
			case 278:
				rows = v
			case 277:
				spp = v
			case 279: // StripByteCounts
				counts, stripLen = count, int64(v)
				stripLens = tiffArray(data, bo, p, typ, count)
			case 347: // JPEGTables: UNDEFINED bytes, at an offset past 4
				if typ == 7 && count > 4 {
					tables, tablesN = int64(bo.Uint32(data[p+8:])), int64(count)
				}
			case 293: // T6Options
				t6 = v
			case 282, 283: // XResolution, YResolution: RATIONALs at an offset
				if r := int64(bo.Uint32(data[p+8:])); typ == 5 && r >= 0 && r+8 <= int64(len(data)) {
					if d := bo.Uint32(data[r+4:]); d != 0 {
						v := float64(bo.Uint32(data[r:])) / float64(d)
						if tag == 282 {
							xres = v
						} else {
							yres = v
						}
					}
				}
			case 296: // ResolutionUnit: 1 none, 2 inch, 3 centimetre
				unit = v
			}
		}
		page := len(t.sizes) + 1
		if lim.MaxPages > 0 && page > lim.MaxPages {
			return nil, errcode.New(errcode.TooManyPages, "the TIFF has more than %d pages", lim.MaxPages)
		}
		if err := checkPixels(w, h, lim, page); err != nil {
			return nil, err
		}
		t.sizes = append(t.sizes, [2]int{w, h})
		t.dpi = append(t.dpi, tiffDPI(xres, unit))
		t.ydpi = append(t.ydpi, tiffDPI(yres, unit))
		if fx, fy, ok := squareScale(t.dpi[page-1], t.ydpi[page-1]); ok {
			if err := checkPixels(int(float64(w)*fx), int(float64(h)*fy), lim, page); err != nil {
				return nil, err
			}
		}
		g := g4Page{strips: strips, blackIs1: photo == 1, reversed: fill == 2, comp: comp, photo: photo, spp: spp, rowsPerStrip: rows}
		if comp == 7 && strips > 1 && len(stripOffs) == strips && len(stripLens) == strips {
			g.stripOffs, g.stripLens = stripOffs, stripLens
		}
		if tables >= 0 && tablesN > 0 && tables+tablesN <= int64(len(data)) {
			g.tables, g.tablesN = tables, tablesN
		}
		if strips == 1 && counts == 1 {
			g.off, g.n = stripOff, stripLen
		}
		g.fax = (comp == 2 || comp == 3 || comp == 4) && bits == 1 && spp == 1 && (photo == 0 || photo == 1)
		g.ok = comp == 4 && bits == 1 && spp == 1 && (photo == 0 || photo == 1) && t6&2 == 0 && strips >= 1 && counts == strips
		if g.ok && strips == 1 {
			g.ok = g.off >= 0 && g.n > 0 && g.off+g.n <= int64(len(data))
		}
		t.g4 = append(t.g4, g)
		pageBits := bits
		if multi {
			pageBits = 8
		}
		t.bits = append(t.bits, pageBits*max(spp, 1))
		off = int64(bo.Uint32(data[end:]))
	}
	if len(t.sizes) == 0 {
		return nil, bad("no pages")
	}
	return t, nil
}

// tiffArray is the values of the SHORT or LONG IFD entry at p (type typ,
// count values), inline where they fit in its 4 bytes and at its offset
// otherwise; nil for another type, or values past the end of data.
func tiffArray(data []byte, bo binary.ByteOrder, p int64, typ uint16, count int) []int64 {
	size := int64(0)
	switch typ {
	case 3:
		size = 2
	case 4:
		size = 4
	default:
		return nil
	}
	if count <= 0 || int64(count) > int64(len(data))/size {
		return nil
	}
	at := p + 8
	if int64(count)*size > 4 {
		at = int64(bo.Uint32(data[p+8:]))
	}
	if at < 0 || at+int64(count)*size > int64(len(data)) {
		return nil
	}
	out := make([]int64, count)
	for k := range out {
		if size == 2 {
			out[k] = int64(bo.Uint16(data[at+int64(k)*2:]))
		} else {
			out[k] = int64(bo.Uint32(data[at+int64(k)*4:]))
		}
	}
	return out
}

// tiffDPI is a TIFF page's resolution in dots per inch from its
// XResolution and ResolutionUnit (TIFF 6.0, tags 282 and 296); 0 when
// unknown or without a unit.
func tiffDPI(xres float64, unit int) int {
	switch unit {
	case 2:
		return perInch(xres)
	case 3:
		return perInch(xres * 2.54)
	}
	return 0
}

// NumPages returns the page count.
func (t *TIFF) NumPages() int { return len(t.sizes) }

// PageBits returns page i's bits per pixel as the engine gets it: as
// stored (1 for a bilevel scan), or 8 or 24 once resampled to square
// pixels (Page).
func (t *TIFF) PageBits(i int) int {
	if _, _, ok := squareScale(t.dpi[i], t.ydpi[i]); ok {
		return resampledBits(t.bits[i])
	}
	return t.bits[i]
}

// PageSize returns page i's size as the engine gets it: at square pixels
// when its resolutions differ (Page).
func (t *TIFF) PageSize(i int) (int, int) {
	w, h := t.sizes[i][0], t.sizes[i][1]
	if fx, fy, ok := squareScale(t.dpi[i], t.ydpi[i]); ok {
		return squareSize(w, h, fx, fy)
	}
	return w, h
}

// Page returns page i: the file and its index; a page whose horizontal
// and vertical resolutions differ (a 204 × 98-dpi fax) is decoded and
// resampled to square pixels at the higher one (squarePixels), with its
// size as it is in SourceWidth and SourceHeight. A page that cannot be
// decoded in Go, even re-coded by tiffcp, goes as it is (the engine's own
// decoder may read it), its pixels squashed.
func (t *TIFF) Page(ctx context.Context, i int, ws string) (engine.Image, error) {
	w, h := t.PageSize(i)
	out := engine.Image{Number: i + 1, Width: w, Height: h, Format: "tiff", Data: t.data, TIFFPage: i + 1}
	if _, _, ok := squareScale(t.dpi[i], t.ydpi[i]); !ok {
		return out, nil
	}
	data, format, err := squarePixels(t.data, i+1, w, h)
	if err != nil && t.g4[i].fax {
		// The TIFF decoder fails on some fax codings (Group 3 2-D:
		// "ccitt: invalid code"); libtiff's tiffcp re-codes the page
		// uncompressed, without loss, and that is decoded.
		var page []byte
		if page, err = t.uncompressedPage(ctx, i, ws); err == nil {
			data, format, err = squarePixels(page, 1, w, h)
		}
	}
	if err != nil {
		// Not decodable here (a coding only libtiff reads): the engine
		// gets the page as it is, read squashed as before, rather than
		// no page at all.
		out.Width, out.Height = t.sizes[i][0], t.sizes[i][1]
		return out, nil
	}
	out.SourceWidth, out.SourceHeight = t.sizes[i][0], t.sizes[i][1]
	out.Data, out.Format, out.TIFFPage, out.DPI = data, format, 0, max(t.dpi[i], t.ydpi[i])
	return out, nil
}

// Close does nothing.
func (t *TIFF) Close() error { return nil }

// uncompressedPage is page i alone, re-coded uncompressed by recodePage
// in a directory of its own under ws (pages run at once).
func (t *TIFF) uncompressedPage(ctx context.Context, i int, ws string) ([]byte, error) {
	return t.recodePage(ctx, i, ws, "none")
}

// recodePage is the TIFF file of page i alone, re-coded by libtiff's
// tiffcp with compression comp (tiffcp -c) and the further arguments args
// ("file,N" picks directory N, from 0), written in a directory of its own
// under ws. tiffcp failing is invalid_document (a limit's own code kept); the workspace's own
// errors (a full disk) are returned as they are.
func (t *TIFF) recodePage(ctx context.Context, i int, ws, comp string, args ...string) ([]byte, error) {
	dir, err := os.MkdirTemp(ws, "page-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	in, out := filepath.Join(dir, "in.tif"), filepath.Join(dir, "out.tif")
	if err := os.WriteFile(in, t.data, 0o600); err != nil {
		return nil, err
	}
	argv := append(append([]string{"-c", comp}, args...), in+","+strconv.Itoa(i), out)
	if _, err := run(ctx, t.lim, "tiffcp", argv...); err != nil {
		if _, coded := errors.AsType[*errcode.Error](err); coded {
			return nil, err // the render limits' timeout or memory codes
		}
		return nil, errcode.Wrap(errcode.InvalidDocument, err, "re-coding TIFF page %d with tiffcp", i+1)
	}
	return os.ReadFile(out)
}
