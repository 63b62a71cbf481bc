// Package httpcheck holds the HTTP helpers that the tests of several packages share: a request
// that fails the test on transport errors, and a reader of Prometheus's text format.
package httpcheck

import (
	"bufio"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// Do sends a request with the given body and header pairs ("Name", "value", ...) and returns the
// status and the body. A transport error fails the test.
func Do(tb testing.TB, method, url, body string, header ...string) (int, string) {
	tb.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Samples reads Prometheus's text format and returns every sample keyed "name{labels}" exactly as
// written (the client library writes labels in name order). A malformed sample fails the test.
func Samples(tb testing.TB, text io.Reader) map[string]float64 {
	tb.Helper()
	samples := map[string]float64{}
	sc := bufio.NewScanner(text)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if i < 0 || err != nil {
			tb.Fatalf("sample %q: not \"series value\"", line)
		}
		samples[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return samples
}
