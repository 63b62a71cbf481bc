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

// bearerAuthorized checks "Authorization: Bearer <secret>" against the digest of the secret
// wanted; the scheme is case-insensitive (RFC 7235).
func bearerAuthorized(header string, want *[sha256.Size]byte) bool {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	return sameSecret(token, want)
}

// bridgeAuthorized says whether a request to the named bridge's route may go on. A known bridge
// asks for its own secret, if it has one. An unknown name asks for Options.Secret when that is
// set, and is refused (401) when only some bridges have secrets of their own: either way, a
// stranger cannot tell an unknown bridge from a known one whose secret they lack.
func (s *Server) bridgeAuthorized(bridge, header string) bool {
	if s.bridges[bridge] {
		want, ok := s.secrets[bridge]
		return !ok || bearerAuthorized(header, want)
	}
	if s.opts.Secret != "" {
		return bearerAuthorized(header, &s.secret)
	}
	return !s.anySecret
}
