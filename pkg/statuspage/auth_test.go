package statuspage

import (
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
)

func newClient(t *testing.T, base *http.Client) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar}
	if base != nil {
		c.Transport = base.Transport
	}
	return c
}

func sessionCookie(t *testing.T, resp *http.Response) *http.Cookie {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == cookieName {
			return c
		}
	}
	t.Fatalf("no %s cookie in %v", cookieName, resp.Header)
	return nil
}

// TestSignInAndCommand: only a signed-in page of this origin that sends its CSRF token gets a
// command through; the cookie is HttpOnly and SameSite=Strict.
func TestSignInAndCommand(t *testing.T) {
	p := startPage(t, Options{Password: password}, false)
	c := newClient(t, nil)
	if _, body := request(t, c, "GET", p.url+"/api/session", ""); !strings.Contains(body, `"controls":true,"signed_in":false`) {
		t.Errorf("session before signing in: %s", body)
	}
	if resp, _ := request(t, c, "POST", p.url+"/api/locks/L-1/lock", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("command before signing in: %d; want 401", resp.StatusCode)
	}
	if resp, _ := request(t, c, "POST", p.url+"/api/login", `{"password":"`+password+`"}`,
		"Origin", "http://evil.example"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign-in from another site: %d; want 403", resp.StatusCode)
	}
	resp, body := request(t, c, "POST", p.url+"/api/login", `{"password":"`+password+`"}`,
		"Origin", p.url, "Sec-Fetch-Site", "same-origin")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sign-in: %d %s", resp.StatusCode, body)
	}
	ck := sessionCookie(t, resp)
	if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Secure || ck.Path != "/" {
		t.Errorf("cookie %+v; want HttpOnly, SameSite=Strict, not Secure over http", ck)
	}
	var sess sessionView
	if err := json.Unmarshal([]byte(body), &sess); err != nil || sess.CSRF == "" || !sess.SignedIn {
		t.Fatalf("sign-in answer %s: %v", body, err)
	}
	if strings.Contains(body, ck.Value) {
		t.Errorf("the session cookie's value is in the body")
	}
	for _, tt := range []struct {
		name   string
		header []string
		want   int
	}{
		{"no CSRF token", nil, http.StatusForbidden},
		{"wrong CSRF token", []string{csrfHeader, "x" + sess.CSRF}, http.StatusForbidden},
		{"cross-site Origin", []string{csrfHeader, sess.CSRF, "Origin", "http://evil.example"}, http.StatusForbidden},
		{"cross-site fetch", []string{csrfHeader, sess.CSRF, "Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"same-site fetch", []string{csrfHeader, sess.CSRF, "Sec-Fetch-Site", "same-site"}, http.StatusForbidden},
	} {
		if resp, body := request(t, c, "POST", p.url+"/api/locks/L-1/unlock", "", tt.header...); resp.StatusCode != tt.want {
			t.Errorf("%s: %d %s; want %d", tt.name, resp.StatusCode, body, tt.want)
		}
	}
	if got := p.cmds.got(); len(got) != 0 {
		t.Fatalf("refused requests submitted commands: %v", got)
	}
	resp, body = request(t, c, "POST", p.url+"/api/locks/L-1/unlock", "", csrfHeader, sess.CSRF, "Origin", p.url)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"ok":true`) {
		t.Errorf("command: %d %s", resp.StatusCode, body)
	}
	if resp, _ := request(t, c, "POST", p.url+"/api/locks/L-1/dance", "", csrfHeader, sess.CSRF); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown command: %d; want 404", resp.StatusCode)
	}
	if got := p.cmds.got(); len(got) != 1 || got[0] != "L-1 unlock" {
		t.Errorf("commands submitted: %v; want [L-1 unlock]", got)
	}
	// Signed out, the same cookie and token are worth nothing.
	if resp, _ := request(t, c, "POST", p.url+"/api/logout", "", csrfHeader, sess.CSRF); resp.StatusCode != http.StatusOK {
		t.Errorf("sign-out: %d", resp.StatusCode)
	}
	other := newClient(t, nil)
	other.Jar.SetCookies(resp.Request.URL, []*http.Cookie{ck})
	if resp, _ := request(t, other, "POST", p.url+"/api/locks/L-1/lock", "", csrfHeader, sess.CSRF); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("command with a signed-out session: %d; want 401", resp.StatusCode)
	}
}

// TestWrongPasswordsLimited: after maxFailures wrong passwords a source is refused 429, even
// with the right one, for the rest of the window.
func TestWrongPasswordsLimited(t *testing.T) {
	p := startPage(t, Options{Password: password}, false)
	for i := range maxFailures {
		if resp, _ := request(t, nil, "POST", p.url+"/api/login", `{"password":"guess"}`); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d; want 401", i+1, resp.StatusCode)
		}
	}
	resp, _ := request(t, nil, "POST", p.url+"/api/login", `{"password":"`+password+`"}`)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("after %d wrong passwords: %d %v; want 429 with Retry-After", maxFailures, resp.StatusCode, resp.Header)
	}
}

// TestSecureCookieOverTLS: a session started over TLS never travels over plain HTTP.
func TestSecureCookieOverTLS(t *testing.T) {
	p := startPage(t, Options{Password: password}, true)
	c := newClient(t, p.tlsClient)
	resp, body := request(t, c, "POST", p.url+"/api/login", `{"password":"`+password+`"}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sign-in: %d %s", resp.StatusCode, body)
	}
	if ck := sessionCookie(t, resp); !ck.Secure {
		t.Errorf("cookie over TLS: %+v; want Secure", ck)
	}
}
