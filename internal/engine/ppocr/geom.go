package ppocr

import (
	"math"
	"sort"

	clipper "github.com/bolom009/go-clipper2"
)

// pt is a point in pixels (x right, y down).
type pt struct{ X, Y float64 }

func (a pt) sub(b pt) pt             { return pt{a.X - b.X, a.Y - b.Y} }
func (a pt) add(b pt) pt             { return pt{a.X + b.X, a.Y + b.Y} }
func (a pt) scale(f float64) pt      { return pt{a.X * f, a.Y * f} }
func (a pt) dist(b pt) float64       { return math.Hypot(a.X-b.X, a.Y-b.Y) }
func cross(o, a, b pt) float64       { return (a.X-o.X)*(b.Y-o.Y) - (a.Y-o.Y)*(b.X-o.X) }
func lerp(a, b pt, f float64) pt     { return a.add(b.sub(a).scale(f)) }
func (q quad) width() float64        { return max(q[0].dist(q[1]), q[3].dist(q[2])) }
func (q quad) height() float64       { return max(q[0].dist(q[3]), q[1].dist(q[2])) }
func (q quad) centerY() float64      { return (q[0].Y + q[1].Y + q[2].Y + q[3].Y) / 4 }
func (q quad) centerX() float64      { return (q[0].X + q[1].X + q[2].X + q[3].X) / 4 }
func (q quad) minY() float64         { return min(q[0].Y, q[1].Y, q[2].Y, q[3].Y) }
func (q quad) maxY() float64         { return max(q[0].Y, q[1].Y, q[2].Y, q[3].Y) }
func (q quad) minX() float64         { return min(q[0].X, q[1].X, q[2].X, q[3].X) }
func (q quad) maxX() float64         { return max(q[0].X, q[1].X, q[2].X, q[3].X) }
func (q quad) points() []pt          { return q[:] }
func polyArea(p []pt) float64        { return math.Abs(signedArea(p)) }
func (r rotRect) shortSide() float64 { return min(r.W, r.H) }

// quad is a quadrilateral: top-left, top-right, bottom-right, bottom-left.
type quad [4]pt

// rotRect is a rotated rectangle: its corners in no particular order, and
// its side lengths (W along the edge corners[0]→corners[1]).
type rotRect struct {
	Corners [4]pt
	W, H    float64
}

func signedArea(p []pt) float64 {
	a := 0.0
	for i := range p {
		j := (i + 1) % len(p)
		a += p[i].X*p[j].Y - p[j].X*p[i].Y
	}
	return a / 2
}

func perimeter(p []pt) float64 {
	l := 0.0
	for i := range p {
		l += p[i].dist(p[(i+1)%len(p)])
	}
	return l
}

// convexHull is Andrew's monotone chain; the hull is counter-clockwise in
// a y-up frame, without repeated or collinear points.
func convexHull(in []pt) []pt {
	p := append([]pt(nil), in...)
	sort.Slice(p, func(i, j int) bool {
		if p[i].X != p[j].X {
			return p[i].X < p[j].X
		}
		return p[i].Y < p[j].Y
	})
	if len(p) < 3 {
		return p
	}
	h := make([]pt, 0, 2*len(p))
	for _, q := range p {
		for len(h) >= 2 && cross(h[len(h)-2], h[len(h)-1], q) <= 0 {
			h = h[:len(h)-1]
		}
		h = append(h, q)
	}
	lower := len(h) + 1
	for i := len(p) - 2; i >= 0; i-- {
		q := p[i]
		for len(h) >= lower && cross(h[len(h)-2], h[len(h)-1], q) <= 0 {
			h = h[:len(h)-1]
		}
		h = append(h, q)
	}
	return h[:len(h)-1]
}

// minAreaRect is the rectangle of least area holding pts (OpenCV's
// minAreaRect): one side lies on an edge of the convex hull (rotating
// calipers). Fewer than three distinct points give a degenerate rectangle.
func minAreaRect(pts []pt) rotRect {
	h := convexHull(pts)
	switch len(h) {
	case 0:
		return rotRect{}
	case 1:
		return rotRect{Corners: [4]pt{h[0], h[0], h[0], h[0]}}
	case 2:
		return rotRect{Corners: [4]pt{h[0], h[1], h[1], h[0]}, W: h[0].dist(h[1])}
	}
	best := rotRect{W: math.Inf(1), H: math.Inf(1)}
	for i := range h {
		a, b := h[i], h[(i+1)%len(h)]
		l := a.dist(b)
		if l == 0 {
			continue
		}
		u := b.sub(a).scale(1 / l) // along the edge
		v := pt{-u.Y, u.X}         // across it
		minU, maxU, minV, maxV := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
		for _, p := range h {
			d := p.sub(a)
			pu, pv := d.X*u.X+d.Y*u.Y, d.X*v.X+d.Y*v.Y
			minU, maxU = min(minU, pu), max(maxU, pu)
			minV, maxV = min(minV, pv), max(maxV, pv)
		}
		w, hh := maxU-minU, maxV-minV
		if w*hh < best.W*best.H {
			c := func(su, sv float64) pt { return a.add(u.scale(su)).add(v.scale(sv)) }
			best = rotRect{Corners: [4]pt{c(minU, minV), c(maxU, minV), c(maxU, maxV), c(minU, maxV)}, W: w, H: hh}
		}
	}
	return best
}

// miniBox is PaddleOCR's get_mini_boxes: the minimum-area rectangle of pts
// with its corners ordered top-left, top-right, bottom-right, bottom-left
// (the two leftmost by x, the upper of them first; likewise on the right),
// and its shorter side.
func miniBox(pts []pt) (quad, float64) {
	r := minAreaRect(pts)
	c := r.Corners
	s := c[:]
	sort.SliceStable(s, func(i, j int) bool { return s[i].X < s[j].X })
	var q quad
	if c[1].Y > c[0].Y {
		q[0], q[3] = c[0], c[1]
	} else {
		q[0], q[3] = c[1], c[0]
	}
	if c[3].Y > c[2].Y {
		q[1], q[2] = c[2], c[3]
	} else {
		q[1], q[2] = c[3], c[2]
	}
	return q, r.shortSide()
}

// unclip grows a text kernel's box as DB defines it: by
// area×ratio/perimeter, with round joins, through Clipper's polygon
// offsetting (pyclipper in PaddleOCR; the Go port of Clipper2 here). It
// returns the largest resulting polygon.
func unclip(box []pt, ratio float64) []pt {
	per := perimeter(box)
	if per == 0 {
		return nil
	}
	d := polyArea(box) * ratio / per
	path := make(clipper.PathD, len(box))
	for i, p := range box {
		path[i] = clipper.PointD{X: p.X, Y: p.Y}
	}
	out := clipper.InflatePathsD(clipper.PathsD{path}, d, clipper.Round, clipper.Polygon)
	var best []pt
	bestA := -1.0
	for _, poly := range out {
		ps := make([]pt, len(poly))
		for i, p := range poly {
			ps[i] = pt{p.X, p.Y}
		}
		if a := polyArea(ps); a > bestA {
			best, bestA = ps, a
		}
	}
	return best
}

// orderClockwise is PaddleOCR's order_points_clockwise: top-left (least
// x+y), bottom-right (greatest x+y), and of the other two the one with the
// lesser y−x is top-right.
func orderClockwise(q quad) quad {
	idx := []int{0, 1, 2, 3}
	sort.SliceStable(idx, func(i, j int) bool { return q[idx[i]].X+q[idx[i]].Y < q[idx[j]].X+q[idx[j]].Y })
	tl, br := q[idx[0]], q[idx[3]]
	a, b := q[idx[1]], q[idx[2]]
	if a.Y-a.X > b.Y-b.X {
		a, b = b, a
	}
	return quad{tl, a, br, b}
}

// homography returns the 3×3 projective transform taking src[i] to dst[i]
// (OpenCV's getPerspectiveTransform), row-major, or false when the points
// are degenerate.
func homography(src, dst [4]pt) ([9]float64, bool) {
	var a [8][9]float64
	for i := 0; i < 4; i++ {
		x, y, u, v := src[i].X, src[i].Y, dst[i].X, dst[i].Y
		a[2*i] = [9]float64{x, y, 1, 0, 0, 0, -x * u, -y * u, u}
		a[2*i+1] = [9]float64{0, 0, 0, x, y, 1, -x * v, -y * v, v}
	}
	// Gaussian elimination with partial pivoting.
	for c := 0; c < 8; c++ {
		p := c
		for r := c + 1; r < 8; r++ {
			if math.Abs(a[r][c]) > math.Abs(a[p][c]) {
				p = r
			}
		}
		if math.Abs(a[p][c]) < 1e-12 {
			return [9]float64{}, false
		}
		a[c], a[p] = a[p], a[c]
		for r := 0; r < 8; r++ {
			if r == c {
				continue
			}
			f := a[r][c] / a[c][c]
			for k := c; k < 9; k++ {
				a[r][k] -= f * a[c][k]
			}
		}
	}
	var m [9]float64
	for i := 0; i < 8; i++ {
		m[i] = a[i][8] / a[i][i]
	}
	m[8] = 1
	return m, true
}

func applyH(m [9]float64, x, y float64) (float64, float64) {
	w := m[6]*x + m[7]*y + m[8]
	if w == 0 {
		w = 1e-12
	}
	return (m[0]*x + m[1]*y + m[2]) / w, (m[3]*x + m[4]*y + m[5]) / w
}

// insideConvex reports whether p is inside (or on) the convex polygon poly,
// whatever its winding.
func insideConvex(poly []pt, p pt) bool {
	sign := 0.0
	for i := range poly {
		c := cross(poly[i], poly[(i+1)%len(poly)], p)
		if c == 0 {
			continue
		}
		if sign == 0 {
			sign = c
		} else if (c > 0) != (sign > 0) {
			return false
		}
	}
	return true
}
