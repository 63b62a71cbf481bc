package broker

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// credentialsHook lets in only clients that present the configured username and password, and
// gives them every topic. It is ours rather than mochi's auth ledger because the ledger compares
// passwords with == (its time depends on the password) and its rules read "*" in a password as a
// wildcard, so a password with a "*" would admit guesses that share its prefix.
type credentialsHook struct {
	mqtt.HookBase
	user, pass [sha256.Size]byte // digests, compared in constant time whatever the lengths
}

func newCredentialsHook(username, password string) *credentialsHook {
	return &credentialsHook{user: sha256.Sum256([]byte(username)), pass: sha256.Sum256([]byte(password))}
}

func (h *credentialsHook) ID() string { return "tedee2mqtt-credentials" }

func (h *credentialsHook) Provides(b byte) bool {
	return bytes.Contains([]byte{mqtt.OnConnectAuthenticate, mqtt.OnACLCheck}, []byte{b})
}

// OnConnectAuthenticate refuses anonymous clients, other usernames and wrong passwords alike.
func (h *credentialsHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	user := sha256.Sum256(cl.Properties.Username)
	pass := sha256.Sum256(pk.Connect.Password)
	// Both compared, always: which of the two was wrong takes no less time to find out.
	okUser := subtle.ConstantTimeCompare(user[:], h.user[:])
	okPass := subtle.ConstantTimeCompare(pass[:], h.pass[:])
	return okUser&okPass == 1 && pk.Connect.UsernameFlag && pk.Connect.PasswordFlag
}

// OnACLCheck allows every topic: only authenticated clients get this far, and there is one user.
func (h *credentialsHook) OnACLCheck(*mqtt.Client, string, bool) bool { return true }
