package tedeecloud_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedeecloud"
)

func TestErrorAnswers(t *testing.T) {
	for _, tc := range []struct {
		name     string
		handler  http.HandlerFunc
		sentinel error  // errors.Is must hold (nil: none of the sentinels)
		status   int    // the APIError's status
		contains string // in Error()
	}{
		{"401 empty body", answer(401, ""), tedeecloud.ErrUnauthorized, 401, "Device.ReadWrite, DeviceActivity.Read and Lock.Operate"},
		{"403 envelope", answer(403, `{"success":false,"errorMessages":["Missing scope"],"statusCode":403}`), tedeecloud.ErrUnauthorized, 403, "portal.tedee.com/personal-access-keys"},
		{"404", answer(404, `{"success":false,"errorMessages":["Device not found"],"statusCode":404}`), tedeecloud.ErrNotFound, 404, "Device not found"},
		{"409", answer(409, ""), tedeecloud.ErrConflict, 409, "409 Conflict"},
		{"500 HTML from a proxy", answer(502, "<html><body>Bad\ngateway</body></html>"), nil, 502, "<html><body>Bad gateway</body></html>"},
		{"200 with success false", answer(200, `{"result":null,"success":false,"errorMessages":["Lock is busy."],"statusCode":428}`), nil, 428, "Lock is busy."},
		{"the documented 304", file(t, "error-304.json", 200), nil, 304, "List version is up to date."},
		{"success false with a 2xx statusCode", answer(200, `{"success":false,"errorMessages":["no"],"statusCode":200}`), nil, 200, "no"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, tc.handler)
			_, err := newClient(t, srv.URL, 0, nil).Lock(context.Background(), 7)
			var apiErr *tedeecloud.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v, want an *APIError", err)
			}
			if apiErr.Status != tc.status || apiErr.Method != "GET" || apiErr.Path != "/my/lock/7" {
				t.Errorf("APIError = %+v, want status %d on GET /my/lock/7", apiErr, tc.status)
			}
			for _, s := range []error{tedeecloud.ErrUnauthorized, tedeecloud.ErrNotFound, tedeecloud.ErrConflict,
				tedeecloud.ErrRateLimited, tedeecloud.ErrBudget} {
				if got, want := errors.Is(err, s), s == tc.sentinel; got != want {
					t.Errorf("errors.Is(err, %v) = %v, want %v", s, got, want)
				}
			}
			if !strings.Contains(err.Error(), tc.contains) {
				t.Errorf("err = %q, want it to contain %q", err, tc.contains)
			}
		})
	}
}

// TestErrorMessagesBounded: a server cannot fill the logs through an error.
func TestErrorMessagesBounded(t *testing.T) {
	long := strings.Repeat("é", 500) // two bytes each: the cut must not split one
	msgs := fmt.Sprintf(`[%q,"second","\u0007third\r\nline",%q,"fifth"]`, long, "fourth")
	srv := newServer(t, answer(400, `{"success":false,"errorMessages":`+msgs+`,"statusCode":400}`))
	_, err := newClient(t, srv.URL, 0, nil).Devices(context.Background())
	var apiErr *tedeecloud.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("err = %v", err)
	}
	if len(apiErr.Messages) != 4 || apiErr.Messages[1] != "second" || apiErr.Messages[2] != "third line" || apiErr.Messages[3] != "(2 more)" {
		t.Errorf("Messages = %q, want 3 cleaned messages and a count of the rest", apiErr.Messages)
	}
	if m := apiErr.Messages[0]; len(m) > 210 || !strings.HasSuffix(m, "…") || !strings.HasPrefix(m, "éé") || strings.ContainsRune(m, '\uFFFD') {
		t.Errorf("first message (%d bytes) = %q, want it cut short on a rune boundary", len(m), m)
	}
	if len(err.Error()) > 1000 {
		t.Errorf("Error() is %d bytes", len(err.Error()))
	}
}

func TestNonJSONSuccessIsAnError(t *testing.T) {
	for _, body := range []string{"", "OK", `{"success":true}`, `{"result":null,"success":true}`, `{"result":{"id":"x"},"success":true}`} {
		srv := newServer(t, answer(200, body))
		if _, err := newClient(t, srv.URL, 0, nil).Lock(context.Background(), 1); err == nil || !errors.Is(err, tedeecloud.ErrAnswerLost) {
			t.Errorf("body %q: err = %v, want ErrAnswerLost", body, err)
		}
	}
}

func TestAnswerSizeCapped(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		w.Write([]byte(`{"result":{"name":"`))
		chunk := []byte(strings.Repeat("x", 64<<10))
		for range (tedeecloud.MaxResponseBytes / len(chunk)) + 2 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
		w.Write([]byte(`"},"success":true}`))
	})
	_, err := newClient(t, srv.URL, 0, nil).Lock(context.Background(), 1)
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("err = %v, want the answer refused as too large", err)
	}
}

// TestKeyNeverShown: not in String() of the options or the client, nor in any error, even when a
// server echoes it back.
func TestKeyNeverShown(t *testing.T) {
	opts := tedeecloud.Options{URL: "https://api.tedee.com", Key: key, RequestsPerHour: 100}
	c, err := tedeecloud.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{fmt.Sprint(opts), fmt.Sprintf("%+v", opts), fmt.Sprintf("%#v", opts), fmt.Sprintf("%v", &opts),
		fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), c.String()} {
		if strings.Contains(s, key) || strings.Contains(s, key[:10]) {
			t.Errorf("%q shows the key", s)
		}
	}

	echo := func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		w.WriteHeader(401)
		fmt.Fprintf(w, `{"success":false,"errorMessages":["bad key %s","%s"],"statusCode":401}`, auth, strings.Repeat("k", 170)+auth)
	}
	echoText := func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(500)
		fmt.Fprintf(w, "header was %s", r.Header.Get("Authorization"))
	}
	closed := newServer(t, answer(200, okEmpty))
	closed.Close()
	for name, url := range map[string]string{
		"echo in JSON": newServer(t, echo).URL, "echo in text": newServer(t, echoText).URL, "server down": closed.URL,
	} {
		_, err := newClient(t, url, 0, nil).Devices(context.Background())
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		var apiErr *tedeecloud.APIError
		if errors.As(err, &apiErr) {
			for _, m := range apiErr.Messages {
				if strings.Contains(m, key[:10]) {
					t.Errorf("%s: message %q shows the key", name, m)
				}
			}
		}
		if strings.Contains(err.Error(), key) || strings.Contains(err.Error(), key[:10]) {
			t.Errorf("%s: %q shows the key", name, err)
		}
	}

	if _, err := tedeecloud.New(tedeecloud.Options{Key: "abc def" + key}); err == nil || strings.Contains(err.Error(), key) {
		t.Errorf("New with a key holding a space: err = %v, want an error that does not show it", err)
	}
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		url, key string
		ok       bool
	}{
		{"", key, true},
		{"https://api.tedee.com/", key, true},
		{"http://127.0.0.1:8080/prefix/", key, true},
		{"https://api.tedee.com", "", false},
		{"https://api.tedee.com", "  ", false},
		{"api.tedee.com", key, false},
		{"ftp://api.tedee.com", key, false},
		{"https://", key, false},
		{"https://api.tedee.com/?x=1", key, false},
		{"https://api.tedee.com/#frag", key, false},
		{"http://[::1", key, false},
	} {
		_, err := tedeecloud.New(tedeecloud.Options{URL: tc.url, Key: tc.key})
		if (err == nil) != tc.ok {
			t.Errorf("New(URL %q, key set %v) err = %v, want ok %v", tc.url, tc.key != "", err, tc.ok)
		}
	}
}

// TestBaseURLTrailingSlash: the versioned path follows the configured base, slash or not.
func TestBaseURLTrailingSlash(t *testing.T) {
	for _, suffix := range []string{"", "/", "/prefix", "/prefix/"} {
		srv := newServer(t, answer(200, okEmpty))
		if _, err := newClient(t, srv.URL+suffix, 0, nil).SyncLocks(context.Background()); err != nil {
			t.Fatal(err)
		}
		want := strings.TrimSuffix(suffix, "/") + "/api/v37/my/lock/sync"
		if got := srv.requests()[0].Path; got != want {
			t.Errorf("URL %q: path %q, want %q", srv.URL+suffix, got, want)
		}
	}
}
