package broker

import (
	"errors"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// tryConnect connects once (MQTT 3.1.1, no fallback) and returns the broker's verdict.
func tryConnect(t *testing.T, addr, username, password string) error {
	t.Helper()
	o := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("probe").SetProtocolVersion(4).
		SetAutoReconnect(false).SetConnectTimeout(5 * time.Second)
	if username != "" {
		o.SetUsername(username).SetPassword(password)
	}
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(waitTimeout) {
		t.Fatal("connect timed out")
	}
	if tok.Error() == nil {
		c.Disconnect(100)
	}
	return tok.Error()
}

// With credentials configured, only they are admitted: anonymous clients, other users and wrong
// passwords (including ones a wildcard rule would match) are refused.
func TestCredentialsEnforced(t *testing.T) {
	b, err := Start("127.0.0.1:0", Options{Username: "tedee2mqtt", Password: "pass*word"}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	for _, c := range []struct{ user, pass string }{
		{"", ""}, {"tedee2mqtt", ""}, {"tedee2mqtt", "wrong"}, {"tedee2mqtt", "pass*wordX"},
		{"tedee2mqtt", "pass"}, {"other", "pass*word"}, {"tedee2mqtt", "pass*"},
	} {
		err := tryConnect(t, b.Addr(), c.user, c.pass)
		if !errors.Is(err, packets.ErrorRefusedBadUsernameOrPassword) && !errors.Is(err, packets.ErrorRefusedNotAuthorised) {
			t.Errorf("user %q password %q: err = %v, want refused (bad credentials or not authorised)", c.user, c.pass, err)
		}
	}
	if err := tryConnect(t, b.Addr(), "tedee2mqtt", "pass*word"); err != nil {
		t.Errorf("the configured credentials: %v", err)
	}
	// An admitted client can publish and subscribe everywhere.
	c := connect(t, b.Addr(), "ok", func(o *paho.ClientOptions) { o.SetUsername("tedee2mqtt").SetPassword("pass*word") })
	if tok := c.Publish("tedee/x/set", 1, false, "open"); !tok.WaitTimeout(waitTimeout) || tok.Error() != nil {
		t.Errorf("publish: %v", tok.Error())
	}
}

// Without credentials the broker is anonymous (the configuration allows that on loopback only).
func TestAnonymousWithoutCredentials(t *testing.T) {
	b := startBroker(t)
	if err := tryConnect(t, b.Addr(), "", ""); err != nil {
		t.Errorf("anonymous client: %v", err)
	}
}
