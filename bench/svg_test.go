package bench

import (
	"encoding/xml"
	"fmt"
	"math"
	"strings"
)

// What the benchmarks' SVG charts (soakSVG, httpLoadSVG) share: plain SVG
// written by hand, so that the charts need no dependency.

// svgOpen starts an SVG document of the given size on a white background
// (GitHub shows it on its own page background otherwise).
func svgOpen(b *strings.Builder, width, height float64) {
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="11">`+"\n", width, height)
	b.WriteString(`<rect width="100%" height="100%" fill="white"/>` + "\n")
}

// xmlText escapes s for an SVG text node or attribute value: server names
// carry '+', '&' or '<'.
func xmlText(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s)) // a strings.Builder never fails
	return b.String()
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten (1 for v <= 0).
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, f := range []float64{1, 2, 5, 10} {
		if v <= f*p {
			return f * p
		}
	}
	return 10 * p
}

// niceTicks returns the ticks of an axis from 0 that reaches at least vmax,
// at a round step (1, 2 or 5 times a power of ten), about five of them.
func niceTicks(vmax float64) []float64 {
	step := niceCeil(vmax / 5)
	ticks := []float64{0}
	for v := step; ; v += step {
		ticks = append(ticks, v)
		if v >= vmax {
			return ticks
		}
	}
}
