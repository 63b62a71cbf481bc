package webhook

import "strings"

// maxLoggedPath bounds the path in a log line: a GET+NO_PARAMS event fits, a hostile 16 KiB
// path does not fill the logs.
const maxLoggedPath = 512

// maxUnescapes is how many layers of percent-encoding are looked through for the cloud secret:
// more than any proxy adds, and a bound on the work a hostile path can cause.
const maxUnescapes = 4

// logPath is a request path as logged. The cloud route's path is its secret, and a sender may
// spell it oddly (//webhook/cloud/…, a trailing "/", percent-encoded, another case) or send it
// where it does not belong, so whatever follows a "cloud" segment in any of those spellings is
// never logged, nor the configured secret anywhere in the path.
func (s *Server) logPath(path string) string {
	if prefix, ok := cloudSegment(path); ok {
		return prefix + "/<secret>"
	}
	path = s.redact(path)
	if len(path) > maxLoggedPath {
		return path[:maxLoggedPath] + "…"
	}
	return path
}

// cloudSegment returns the path up to its first "cloud" segment (case-insensitive, in the path as
// sent or once decoded, layer by layer), if it has one.
func cloudSegment(path string) (string, bool) {
	for _, p := range spellings(path) {
		segs := strings.Split(p, "/")
		for i, seg := range segs {
			if strings.EqualFold(strings.TrimSpace(seg), "cloud") {
				return strings.Join(segs[:i+1], "/"), true
			}
		}
	}
	return "", false
}

// redact replaces the cloud path secret, if one is configured, wherever it shows in text or in
// any decoding of it; text holding it only percent-encoded is replaced whole.
func (s *Server) redact(text string) string {
	secret := s.opts.CloudPathSecret
	if secret == "" {
		return text
	}
	for i, p := range spellings(text) {
		if !strings.Contains(p, secret) {
			continue
		}
		if i == 0 {
			return strings.ReplaceAll(text, secret, "<secret>")
		}
		return "<redacted: holds the cloud path secret>"
	}
	return text
}

// spellings returns text and each successive percent-decoding of it that differs, at most
// maxUnescapes of them.
func spellings(text string) []string {
	out := []string{text}
	for range maxUnescapes {
		d := unescape(out[len(out)-1])
		if d == out[len(out)-1] {
			break
		}
		out = append(out, d)
	}
	return out
}

// unescape decodes every valid %XX and leaves the rest as it is: unlike url.PathUnescape, one
// malformed escape does not hide the others.
func unescape(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
