package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/tedee2mqtt/tedee2mqtt/internal/brokertest"
	"github.com/tedee2mqtt/tedee2mqtt/internal/fakebridge"
	"github.com/tedee2mqtt/tedee2mqtt/internal/httpcheck"
)

const uiPassword = "status-page-pass-0123"

// startPageService starts the service with the fake bridge (its callback registered, so the
// lock's movements arrive as webhooks) and, when password is set, the status page's password;
// extra is more top-level configuration.
func startPageService(t *testing.T, password, extra string) (*service, *fakebridge.Bridge) {
	t.Helper()
	b := brokertest.Start(t)
	fb, host := startFakeBridge(t)
	var env []string
	if password != "" {
		env = append(env, "TEDEE2MQTT_HTTP_UI_PASSWORD="+password)
	}
	svc := startService(t, b.URL(), bridgeConfig(host, "    public_url: \"http://{{listen}}\"\n")+extra, env...)
	for deadline := time.Now().Add(waitTimeout); len(fb.Callbacks()) == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("callback not registered")
		}
	}
	return svc, fb
}

// TestStatusPageBrowser: in a real Chromium, the page shows both locks of the fake bridge and
// follows a webhook without a reload; a phone-sized viewport does not scroll sideways; signing
// in gives buttons, lock moves the fake lock, and unlock asks first (cancel sends nothing); the
// console reports no error. With UPDATE_SCREENSHOT=1 it writes docs/status-page.png.
func TestStatusPageBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser, a broker and the fake bridge")
	}
	// The Lock GO may not be opened: the page offers no Open button for it.
	svc, fb := startPageService(t, uiPassword, "locks:\n  \""+goSerial+"\":\n    commands: [lock, unlock]\n")
	br := newBrowser(t, 1000, 900)
	start := time.Now()
	br.do(t, "open the page", chromedp.Navigate(svc.base+"/"))
	br.waitJS(t, "both locks", lockState(proSerial)+` === "locked" && `+lockState(goSerial)+` === "unlocked"`)
	br.waitJS(t, "the bridge's health", `document.querySelector('li[data-bridge="home"]').textContent.includes("registered")`)
	if n := eval[int](t, br, `document.querySelectorAll("button[data-command]").length`); n != 0 {
		t.Errorf("%d command buttons before signing in", n)
	}

	// A webhook (the battery drains) reaches the open page; the marker shows it was not reloaded.
	eval[bool](t, br, `window.notReloaded = true`)
	fb.Update(1, func(l *fakebridge.Lock) { l.Battery = 15 })
	br.waitJS(t, "the new battery level", `document.querySelector('li[data-serial="`+proSerial+`"]').textContent.includes("15 %")`)
	if !eval[bool](t, br, `window.notReloaded === true`) {
		t.Error("the page was reloaded")
	}

	// Sign in: the buttons appear.
	br.do(t, "sign in", chromedp.SendKeys(chromedp.ID("password"), uiPassword),
		chromedp.Click(chromedp.CSS(`#signin-form button[type="submit"]`)))
	br.waitJS(t, "buttons", `document.querySelectorAll("button[data-command]").length === 5`)
	if eval[bool](t, br, `!!document.querySelector('li[data-serial="`+goSerial+`"] button[data-command="open"]')`) {
		t.Error("an Open button for a lock whose commands do not list open")
	}

	// Lock moves the fake lock, without asking; from the keyboard, as everything on the page.
	br.do(t, "press lock with the keyboard", chromedp.Focus(button(goSerial, "lock")), chromedp.KeyEvent("\r"))
	br.waitJS(t, "the Lock GO locked", lockState(goSerial)+` === "locked"`)
	if st := fb.Lock(2).State; st != 6 {
		t.Errorf("the fake Lock GO is in state %d, want 6 (locked)", st)
	}

	// Unlock asks first: cancelled, nothing is sent; confirmed, the lock moves.
	br.do(t, "press unlock", chromedp.Click(button(proSerial, "unlock")))
	br.waitJS(t, "the confirmation", `document.getElementById("confirm").open && document.getElementById("confirm-text").textContent.includes("Unlock")`)
	for _, ex := range fb.Executions() {
		if ex.Op == "unlock" {
			t.Fatalf("unlock sent before it was confirmed: %+v", fb.Executions())
		}
	}
	br.do(t, "cancel with Escape", chromedp.KeyEvent("\x1b"))
	br.waitJS(t, "the confirmation closed", `!document.getElementById("confirm").open`)
	br.do(t, "press unlock again", chromedp.Click(button(proSerial, "unlock")))
	br.waitJS(t, "the confirmation", `document.getElementById("confirm").open`)
	br.do(t, "confirm", chromedp.Click(chromedp.ID("confirm-ok")))
	br.waitJS(t, "the Lock PRO unlocked", lockState(proSerial)+` === "unlocked"`)
	unlocks := 0
	for _, ex := range fb.Executions() {
		if ex.Op == "unlock" {
			unlocks++
		}
	}
	if unlocks != 1 {
		t.Errorf("unlocks sent: %d, want 1 (the confirmed one): %+v", unlocks, fb.Executions())
	}

	if os.Getenv("UPDATE_SCREENSHOT") == "1" {
		br.waitJS(t, "the result shown", `document.getElementById("command-status").textContent.includes("done")`)
		png, err := chromedp.Run(br.ctx, chromedp.FullScreenshot(100)) // 100: a PNG; below, a JPEG
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("..", "..", "docs", "status-page.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// A phone: nothing wider than the screen.
	br.do(t, "phone viewport", chromedp.EmulateViewport(375, 740))
	br.waitJS(t, "the layout at 375 px", `window.innerWidth === 375`)
	if w := eval[int](t, br, `document.documentElement.scrollWidth`); w > 375 {
		t.Errorf("at 375 px the page is %d px wide: it scrolls sideways", w)
	}
	// Readable in both schemes: every text meets WCAG AA contrast (4.5:1), and the dark scheme
	// follows the system's.
	if r := eval[float64](t, br, minContrast); r < 4.5 {
		t.Errorf("light scheme: lowest text contrast %.2f:1, want at least 4.5:1", r)
	}
	if _, err := chromedp.Call(br.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}}); err != nil {
		t.Fatal(err)
	}
	br.waitJS(t, "the dark scheme", `getComputedStyle(document.body).backgroundColor === "rgb(17, 20, 24)"`)
	if r := eval[float64](t, br, minContrast); r < 4.5 {
		t.Errorf("dark scheme: lowest text contrast %.2f:1, want at least 4.5:1", r)
	}
	if errs := br.consoleErrors(); len(errs) > 0 {
		t.Errorf("console errors: %q", errs)
	}
	t.Logf("browser steps took %s", time.Since(start).Round(time.Millisecond))
}

// minContrast is the JavaScript for the lowest contrast ratio (WCAG 2) between any visible text
// on the page and the background it is drawn on.
const minContrast = `(() => {
  const rgb = (c) => c.match(/[\d.]+/g).map(Number);
  const lum = (c) => {
    const [r, g, b] = rgb(c).slice(0, 3).map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const background = (e) => {
    for (; e; e = e.parentElement) {
      const c = getComputedStyle(e).backgroundColor;
      if (rgb(c).length < 4 || rgb(c)[3] > 0) return c;
    }
    return "rgb(255, 255, 255)";
  };
  let lowest = 21;
  for (const e of document.querySelectorAll("body *")) {
    if (!e.offsetParent || ![...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())) continue;
    const [a, b] = [lum(getComputedStyle(e).color), lum(background(e))].sort((x, y) => y - x);
    lowest = Math.min(lowest, (a + 0.05) / (b + 0.05));
  }
  return lowest;
})()`

// TestStatusPageReadOnly: without a password the page shows the locks, no sign-in and no
// button, and the API refuses commands.
func TestStatusPageReadOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser, a broker and the fake bridge")
	}
	svc, fb := startPageService(t, "", "")
	br := newBrowser(t, 800, 700)
	br.do(t, "open the page", chromedp.Navigate(svc.base+"/"))
	br.waitJS(t, "both locks", lockState(proSerial)+` === "locked" && `+lockState(goSerial)+` === "unlocked"`)
	if n := eval[int](t, br, `document.querySelectorAll("button[data-command]").length`); n != 0 {
		t.Errorf("a read-only page has %d command buttons", n)
	}
	if !eval[bool](t, br, `document.getElementById("signin").hidden`) {
		t.Error("a read-only page offers a sign-in")
	}
	if status, body := httpcheck.Do(t, "POST", svc.base+"/api/locks/"+goSerial+"/lock", ""); status != http.StatusForbidden {
		t.Errorf("command on a read-only page: %d %s; want 403", status, body)
	}
	// With no commands configured, the Open button is where Home Assistant gets open: the Lock
	// PRO once its Bridge API reading says its pull spring is enabled, never the Lock GO.
	commands := func() (pro, lockGo []string) {
		var st struct {
			Locks []struct {
				Serial   string   `json:"serial"`
				Commands []string `json:"commands"`
			} `json:"locks"`
		}
		_, body := httpcheck.Do(t, "GET", svc.base+"/api/state", "")
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			t.Fatalf("GET /api/state: %v: %s", err, body)
		}
		for _, l := range st.Locks {
			switch l.Serial {
			case proSerial:
				pro = l.Commands
			case goSerial:
				lockGo = l.Commands
			}
		}
		return pro, lockGo
	}
	pro, lockGo := commands()
	for deadline := time.Now().Add(waitTimeout); !slices.Contains(pro, "open") && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		pro, lockGo = commands()
	}
	if !slices.Contains(pro, "open") || slices.Contains(lockGo, "open") {
		t.Errorf("commands offered: Lock PRO %q, Lock GO %q; want open for the PRO only", pro, lockGo)
	}
	if len(fb.Executions()) != 0 {
		t.Errorf("commands executed: %+v", fb.Executions())
	}
	if errs := br.consoleErrors(); len(errs) > 0 {
		t.Errorf("console errors: %q", errs)
	}
}

// TestStatusPageNoSecrets: no page or API answer, signed in or not, carries the bridge's token,
// the callback's secret or the page's password.
func TestStatusPageNoSecrets(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a broker and the fake bridge")
	}
	svc, fb := startPageService(t, uiPassword, "")
	secrets := []string{bridgeToken, uiPassword}
	for _, h := range fb.Callbacks()[0].Headers {
		secrets = append(secrets, strings.TrimPrefix(h["Authorization"], "Bearer "))
	}
	for deadline := time.Now().Add(waitTimeout); ; time.Sleep(50 * time.Millisecond) {
		if _, body := httpcheck.Do(t, "GET", svc.base+"/api/state", ""); strings.Contains(body, proSerial) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the locks were not synced")
		}
	}
	var answers []string
	for _, path := range []string{"/", "/app.js", "/api/state", "/api/session"} {
		_, body := httpcheck.Do(t, "GET", svc.base+path, "")
		answers = append(answers, body)
	}
	_, body := httpcheck.Do(t, "POST", svc.base+"/api/login", `{"password":"`+uiPassword+`"}`)
	answers = append(answers, body)
	_, body = httpcheck.Do(t, "POST", svc.base+"/api/login", `{"password":"wrong-password"}`)
	answers = append(answers, body)
	// The stream's first event.
	resp, err := http.Get(svc.base + "/api/events")
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(resp.Body)
	line, err := r.ReadString('\n')
	for err == nil && !strings.HasPrefix(line, "data: ") {
		line, err = r.ReadString('\n')
	}
	resp.Body.Close()
	answers = append(answers, line)
	if !strings.Contains(answers[2], proSerial) || !strings.Contains(line, proSerial) {
		t.Fatalf("the state does not list the lock: %s / %s", answers[2], line)
	}
	for _, a := range answers {
		for _, s := range secrets {
			if s != "" && strings.Contains(a, s) {
				t.Errorf("an answer carries a secret (%.4s…): %.200s", s, a)
			}
		}
	}
}

// TestStatusPageStreamDoesNotHoldShutdown: a page left open (its event stream) does not hold the
// service's graceful stop: run returns promptly and without error, and the stream ends.
func TestStatusPageStreamDoesNotHoldShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a broker")
	}
	b := brokertest.Start(t)
	svc := startService(t, b.URL(), "")
	resp, err := http.Get(svc.base + "/api/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	if line, err := r.ReadString('\n'); err != nil || line != "event: state\n" {
		t.Fatalf("stream: %q, %v", line, err)
	}
	start := time.Now()
	svc.stop(t) // fails the test if run errs or has not returned within waitTimeout
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("stopping with a page open took %s", took)
	}
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		for {
			if _, err := r.ReadString('\n'); err != nil {
				return
			}
		}
	}()
	select {
	case <-ended:
	case <-time.After(waitTimeout):
		t.Error("the stream was still open after the service stopped")
		resp.Body.Close()
	}
}
