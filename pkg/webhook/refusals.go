package webhook

import (
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"
)

// refusalEvery is how often a kind of refused webhook is logged at most: a misconfigured bridge
// retries every event, and a flood must not flood the log too.
const refusalEvery = 10 * time.Second

// refusalHints say what to do about a refused webhook, by status.
var refusalHints = map[int]string{
	http.StatusUnauthorized:          "the callback must carry Authorization: Bearer <secret>; with bridges[].host and public_url tedee2mqtt registers it itself",
	http.StatusForbidden:             "webhooks from a web browser are refused: a web page must not forge lock states",
	http.StatusNotFound:              "the path names no configured bridge: register http://<host>:<port>/webhook/<bridges[].name>",
	http.StatusMethodNotAllowed:      "bridges send POST, or GET for the GET and GET+NO_PARAMS methods",
	http.StatusRequestEntityTooLarge: "the body is larger than http.max_body_bytes",
}

// refusalLog logs one line per kind (status) of refused webhook at most every refusalEvery, with
// how many were refused since, so that a refused webhook is never silent at the default level.
type refusalLog struct {
	mu   sync.Mutex
	last map[int]time.Time
	seen map[int]int // refused since the last line, by status
}

func (l *refusalLog) note(log *zap.Logger, status int, reason string, now time.Time) {
	l.mu.Lock()
	if l.last == nil {
		l.last, l.seen = map[int]time.Time{}, map[int]int{}
	}
	l.seen[status]++
	if now.Sub(l.last[status]) < refusalEvery {
		l.mu.Unlock()
		return
	}
	count := l.seen[status]
	l.last[status], l.seen[status] = now, 0
	l.mu.Unlock()
	log.Info("refused webhook", zap.Int("status", status), zap.String("reason", reason),
		zap.String("fix", refusalHints[status]), zap.Int("refused_since_last_line", count))
}
