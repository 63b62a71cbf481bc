package httpcheck

import (
	"strings"
	"testing"
)

func TestSamples(t *testing.T) {
	text := `# HELP x_total Things.
# TYPE x_total counter
x_total{kind="a b",outcome="ok"} 3
up 1

go_gc_duration_seconds{quantile="0.5"} 1.5e-05
`
	got := Samples(t, strings.NewReader(text))
	want := map[string]float64{`x_total{kind="a b",outcome="ok"}`: 3, "up": 1, `go_gc_duration_seconds{quantile="0.5"}`: 1.5e-05}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}
