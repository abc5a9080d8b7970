package ppocr

import (
	"math"
	"sort"
)

// Classification and recognition settings: PaddleOCR's defaults for
// PP-OCRv4 (tools/infer/utility.py).
const (
	clsHeight, clsWidth = 48, 192 // cls_image_shape 3,48,192
	clsThresh           = 0.9     // a line is turned when "180" scores above this
	clsBatch            = 6       // cls_batch_num
	recWidth            = 320     // rec_image_shape 3,48,320: the narrowest input
	recBatch            = 6       // rec_batch_num
	// recBatchColumns bounds a batch's lines × input width: on the CPU a
	// batch of wide lines runs slower per line than one line at a time
	// (measured with 1 thread: 6 lines of 1280 px take 121 ms a line, one
	// alone 82 ms; at 320 px, 25 ms either way), so wide lines go in
	// smaller batches.
	recBatchColumns = 4 * recWidth
	dropScore       = 0.5 // lines read with a lower confidence are dropped
	// Second looks (Lector's, not PaddleOCR's; see secondLooks), where
	// the image is one line: a reading with a confidence under
	// doubtfulConf is read again mirrored, and also stretched when its
	// crop is narrower than narrowRatio × the input height; a second
	// reading replaces the first only when its confidence is higher by
	// secondLookMargin.
	narrowRatio      = 2
	doubtfulConf     = 0.6
	secondLookMargin = 0.2
)

var (
	halfMean = [3]float32{0.5, 0.5, 0.5} // (v/255 − 0.5) / 0.5
	halfStd  = [3]float32{0.5, 0.5, 0.5}
)

// lineInput writes crops[idx] into a batch tensor N×3×height×width, each
// resized to height keeping its aspect ratio (at most width wide) and
// padded with zeros on the right (PaddleOCR's resize_norm_img for both
// the classifier and the recogniser). A crop that would come out narrower
// than minWidth is stretched to minWidth (0: none is; see secondLooks). It
// returns the tensor, in into's memory where it fits (grow), and each
// crop's resized width.
func lineInput(into []float32, crops []*bgr, idx []int, height, width, minWidth int) ([]float32, []int) {
	data := grow(into, len(idx)*3*height*width)
	clear(data)
	widths := make([]int, len(idx))
	for b, i := range idx {
		c := crops[i]
		rw := int(math.Ceil(float64(height) * float64(c.W) / float64(c.H)))
		rw = max(1, min(max(rw, minWidth), width))
		c.resizeInto(data[b*3*height*width:], rw, height, width, halfMean, halfStd)
		widths[b] = rw
	}
	return data, widths
}

// byAspect returns the crops' indices sorted by width/height, narrowest
// first, so a batch holds lines of similar length.
func byAspect(crops []*bgr) []int {
	idx := make([]int, len(crops))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		ca, cb := crops[idx[a]], crops[idx[b]]
		return float64(ca.W)/float64(ca.H) < float64(cb.W)/float64(cb.H)
	})
	return idx
}

// recBatchEnd is where the batch starting at order[beg] ends: at most
// recBatch lines whose count times the batch's width stays within
// recBatchColumns (one line at least). order is sorted by aspect, so the
// batch's width is its last line's. narrowest is the narrowest input
// (recWidth in PaddleOCR's pipeline).
func recBatchEnd(crops []*bgr, order []int, beg, height, narrowest int) int {
	end := beg + 1
	for end < len(order) && end-beg < recBatch {
		w := recBatchWidth(crops, order[end:end+1], height, narrowest)
		if (end-beg+1)*w > recBatchColumns {
			break
		}
		end++
	}
	return end
}

// recBatchWidth is the input width of a recognition batch: height × the
// largest width/height ratio in it, at least narrowest.
func recBatchWidth(crops []*bgr, idx []int, height, narrowest int) int {
	ratio := float64(narrowest) / float64(height)
	for _, i := range idx {
		ratio = max(ratio, float64(crops[i].W)/float64(crops[i].H))
	}
	return int(float64(height) * ratio)
}

// decodedChar is one character of a CTC decoding: the time step that
// emitted it (the first of a repeated run) and the last one of that run.
type decodedChar struct {
	R          rune
	First, End int // time steps [First, End]
	Prob       float32
}

// ctcDecode is CTCLabelDecode's greedy decoding of one sequence of T×C
// probabilities: the most probable class per time step, repeats merged,
// blanks (class 0) dropped; classes 1..len(dict) are dict's characters
// (dict ends with the space when use_space_char). The confidence is the
// mean of the kept characters' probabilities (0 when none).
func ctcDecode(probs []float32, T, C int, dict []rune) ([]decodedChar, float64) {
	var out []decodedChar
	prev := -1
	sum := 0.0
	for t := 0; t < T; t++ {
		row := probs[t*C : (t+1)*C]
		best, bp := 0, row[0]
		for c := 1; c < C; c++ {
			if row[c] > bp {
				best, bp = c, row[c]
			}
		}
		if best == prev && best != 0 && len(out) > 0 {
			out[len(out)-1].End = t
		}
		if best != 0 && best != prev && best-1 < len(dict) {
			out = append(out, decodedChar{R: dict[best-1], First: t, End: t, Prob: bp})
			sum += float64(bp)
		}
		prev = best
	}
	if len(out) == 0 {
		return nil, 0
	}
	return out, sum / float64(len(out))
}

// Long lines are read in pieces (recognizeAt): a crop wider than 1.5 ×
// recChunkAspect × its height is cut about every recChunkAspect heights
// (48 × 50 = 2,400 input columns; a page's lines, up to ~75 heights long,
// stay whole and read as before) at the widest run of blank columns in the last third of each
// piece; a run at least chunkSpace × the height wide is a word space, and
// the joined reading gets one there.
const (
	recChunkAspect = 50
	chunkSpace     = 0.12
	chunkBlank     = 0.2 // a column this dark or less (columnDarkness) is blank
)

// chunkCut is where a long line is cut, and whether the gap there is a
// word space.
type chunkCut struct {
	at    int
	space bool
}

// chunkCuts cuts a line crop (dark: its columnDarkness, height its
// height) into pieces at most maxW wide: each cut in the middle of the
// widest run of blank columns among the last third of the piece, or at its
// lightest column where none is blank. The pieces do not overlap: a cut
// falls between characters wherever the line has a gap.
func chunkCuts(dark []float64, maxW, height int) []chunkCut {
	var cuts []chunkCut
	start := 0
	for len(dark)-start > maxW {
		lo, hi := start+maxW*2/3, start+maxW
		best, bestLen, lightest := -1, 0, lo
		for x := lo; x < hi; {
			if dark[x] < dark[lightest] {
				lightest = x
			}
			if dark[x] > chunkBlank {
				x++
				continue
			}
			end := x
			for end < len(dark) && dark[end] <= chunkBlank {
				end++
			}
			if end-x > bestLen {
				best, bestLen = (x+end)/2, end-x
			}
			x = end
		}
		cut := chunkCut{at: lightest}
		if best > start {
			cut = chunkCut{at: best, space: float64(bestLen) >= chunkSpace*float64(height)}
		}
		cuts = append(cuts, cut)
		start = cut.at
	}
	return cuts
}
