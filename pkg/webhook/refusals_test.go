package webhook

import (
	"net/http"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// TestRefusalsLogged: a refused webhook leaves an info line saying why and what to do, at most
// one per kind every refusalEvery, counting the ones in between.
func TestRefusalsLogged(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	log := zap.New(core)
	var l refusalLog
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	l.note(log, http.StatusUnauthorized, "missing or wrong bearer token", now)
	l.note(log, http.StatusUnauthorized, "missing or wrong bearer token", now.Add(time.Second))
	l.note(log, http.StatusNotFound, `unknown bridge "garage"`, now.Add(time.Second))
	l.note(log, http.StatusUnauthorized, "missing or wrong bearer token", now.Add(refusalEvery+time.Second))
	entries := logs.FilterMessage("refused webhook").All()
	if len(entries) != 3 {
		t.Fatalf("%d lines, want 3 (401, 404, then 401 again with a count)", len(entries))
	}
	last := entries[2].ContextMap()
	if last["status"] != int64(401) || last["refused_since_last_line"] != int64(2) || last["fix"] == "" {
		t.Errorf("last line: %v", last)
	}
}
