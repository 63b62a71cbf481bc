package webhook

import (
	"crypto/sha256"
	"crypto/subtle"
	"strings"
)

// sameSecret compares a secret a client sent with the digest of the configured one, in constant
// time: comparing fixed-size digests takes as long whatever the lengths, so the time taken tells
// nothing about the secret. Both the bearer token and the cloud path secret are checked with it.
func sameSecret(got string, want *[sha256.Size]byte) bool {
	sum := sha256.Sum256([]byte(got))
	return subtle.ConstantTimeCompare(sum[:], want[:]) == 1
}

// bearerAuthorized checks "Authorization: Bearer <secret>"; the scheme is case-insensitive
// (RFC 7235).
func (s *Server) bearerAuthorized(header string) bool {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	return sameSecret(token, &s.secret)
}
