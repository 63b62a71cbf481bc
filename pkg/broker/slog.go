package broker

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// newSlogLogger returns the *slog.Logger handed to mochi (mochi v2 logs through log/slog and otherwise
// prints text to stdout, bypassing our logging setup).
//
// Level mapping, chosen so that the service log at Info shows only what an operator should act on:
//   - mochi Debug and Info → zap Debug: lifecycle chatter ("attached listener", "added hook", …).
//     Start and Close log their own Info line with the address.
//   - mochi Warn → zap Info: mochi uses Warn for per-client trouble (a client that drops its TCP
//     connection without DISCONNECT, a keepalive below the recommended minimum, a malformed packet).
//     On a LAN that is routine — Home Assistant restarts, Wi-Fi clients come and go — and it is the
//     client's problem rather than the broker's, so it should not page anyone.
//   - mochi Error → zap Error.
func newSlogLogger(log *zap.Logger) *slog.Logger {
	return slog.New(&zapHandler{log: log})
}

// zapHandler is a minimal slog.Handler writing to a zap.Logger. go.uber.org/zap/exp/zapslog does the
// same, but it is a separate module and we need only this much.
type zapHandler struct {
	log *zap.Logger
}

var _ slog.Handler = (*zapHandler)(nil)

func zapLevel(l slog.Level) zapcore.Level {
	switch {
	case l >= slog.LevelError:
		return zapcore.ErrorLevel
	case l >= slog.LevelWarn:
		return zapcore.InfoLevel
	default:
		return zapcore.DebugLevel
	}
}

func (h *zapHandler) Enabled(_ context.Context, l slog.Level) bool {
	return h.log.Core().Enabled(zapLevel(l))
}

func (h *zapHandler) Handle(_ context.Context, r slog.Record) error {
	msg := r.Message
	if msg == "" {
		// mochi's listeners log a client's connection error with an empty message and only an
		// "error" attribute; give the line something searchable.
		msg = "client connection ended with error"
	}
	level := zapLevel(r.Level)
	if msg == "failed to get data" && attrContains(r, "error", "key not found") {
		// The storage hook reads its saved server info at every start; a new store
		// (data_dir/broker.db) has none yet. Nothing went wrong: not an error a user should see.
		level = zapcore.DebugLevel
	}
	ce := h.log.Check(level, "mqtt: "+msg)
	if ce == nil {
		return nil
	}
	// Point the caller at mochi's log statement, not at this handler, when the logger records callers.
	if ce.Caller.Defined && r.PC != 0 {
		f, _ := runtime.CallersFrames([]uintptr{r.PC}).Next()
		ce.Caller = zapcore.EntryCaller{Defined: true, PC: f.PC, File: f.File, Line: f.Line, Function: f.Function}
	}
	fields := make([]zap.Field, 0, r.NumAttrs())
	r.Attrs(func(a slog.Attr) bool {
		fields = appendAttr(fields, a)
		return true
	})
	ce.Write(fields...)
	return nil
}

// attrContains reports whether the record has an attribute key whose value's text contains sub.
func attrContains(r slog.Record, key, sub string) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == key && strings.Contains(fmt.Sprint(a.Value.Resolve().Any()), sub) {
			found = true
			return false
		}
		return true
	})
	return found
}

func (h *zapHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	fields := make([]zap.Field, 0, len(attrs))
	for _, a := range attrs {
		fields = appendAttr(fields, a)
	}
	return &zapHandler{log: h.log.With(fields...)}
}

func (h *zapHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h // required by the slog.Handler contract
	}
	// zap.Namespace nests every later field under name, which is what slog's WithGroup means.
	return &zapHandler{log: h.log.With(zap.Namespace(name))}
}

// appendAttr converts a to typed zap fields, following the slog.Handler rules: empty attributes are
// dropped and groups with an empty key are inlined.
func appendAttr(fields []zap.Field, a slog.Attr) []zap.Field {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return fields
	}
	switch a.Value.Kind() {
	case slog.KindString:
		return append(fields, zap.String(a.Key, a.Value.String()))
	case slog.KindInt64:
		return append(fields, zap.Int64(a.Key, a.Value.Int64()))
	case slog.KindUint64:
		return append(fields, zap.Uint64(a.Key, a.Value.Uint64()))
	case slog.KindFloat64:
		return append(fields, zap.Float64(a.Key, a.Value.Float64()))
	case slog.KindBool:
		return append(fields, zap.Bool(a.Key, a.Value.Bool()))
	case slog.KindDuration:
		return append(fields, zap.Duration(a.Key, a.Value.Duration()))
	case slog.KindTime:
		return append(fields, zap.Time(a.Key, a.Value.Time()))
	case slog.KindGroup:
		var group []zap.Field
		for _, ga := range a.Value.Group() {
			group = appendAttr(group, ga)
		}
		if len(group) == 0 {
			return fields
		}
		if a.Key == "" {
			return append(fields, group...)
		}
		return append(fields, zap.Dict(a.Key, group...))
	default: // slog.KindAny (KindLogValuer was resolved above)
		if a.Value.Any() == nil {
			// mochi logs "error", nil for clean disconnects; omitting it reads better than error=null.
			return fields
		}
		if err, ok := a.Value.Any().(error); ok {
			return append(fields, zap.NamedError(a.Key, err))
		}
		return append(fields, zap.Any(a.Key, a.Value.Any()))
	}
}
