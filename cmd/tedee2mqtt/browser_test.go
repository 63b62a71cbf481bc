package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/tedee2mqtt/tedee2mqtt/internal/brokertest"
)

// browserTimeout bounds everything one browser test does in the browser.
const browserTimeout = 90 * time.Second

// browser is a headless Chromium tab, and the errors its console reported.
type browser struct {
	ctx context.Context

	mu       sync.Mutex
	problems []string
}

// chromiumPath finds Debian's chromium. Where every check must run (CI, REQUIRE_MOSQUITTO) a
// missing browser fails the test; elsewhere it skips.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv(brokertest.RequireMosquittoEnv) != "" || os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed (apt-get install chromium); the status page's browser tests need it")
	}
	t.Skip("chromium is not installed (apt-get install chromium)")
	return ""
}

// newBrowser starts a headless Chromium with a fresh profile and no network of its own (no
// updates, sync or QUIC), with a window of the given size.
func newBrowser(t *testing.T, width, height int) *browser {
	t.Helper()
	path := chromiumPath(t)
	ctx, cancel := context.WithTimeout(context.Background(), browserTimeout)
	t.Cleanup(cancel)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("disable-extensions", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(width, height))
	t.Cleanup(cancelAlloc)
	tabCtx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelTab)
	b := &browser{ctx: tabCtx}
	err := chromedp.Listen(tabCtx, func(ev any) {
		var problem string
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				problem = "console.error: " + strings.Join(args, " ")
			}
		case *runtime.EventExceptionThrown:
			problem = "exception: " + ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				problem += " " + ev.ExceptionDetails.Exception.Description
			}
		case *log.EventEntryAdded:
			// Failed loads, CSP violations and the like.
			if ev.Entry.Level == log.EntryLevelError {
				problem = fmt.Sprintf("log %s: %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
			}
		}
		if problem != "" {
			b.mu.Lock()
			b.problems = append(b.problems, problem)
			b.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return b
}

// consoleErrors returns what the console reported as errors so far.
func (b *browser) consoleErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.problems...)
}

func (b *browser) do(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		t.Fatalf("%s: %v; console: %q", what, err, b.consoleErrors())
	}
}

// waitJS waits until a JavaScript expression is true in the page.
func (b *browser) waitJS(t *testing.T, what, expr string) {
	t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(waitTimeout))); err != nil {
		t.Fatalf("waiting for %s (%s): %v; console: %q", what, expr, err, b.consoleErrors())
	}
}

// eval returns the value of a JavaScript expression in the page.
func eval[T any](t *testing.T, b *browser, expr string) T {
	t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// lockState is the JavaScript for the state word a lock's card shows.
func lockState(serial string) string {
	return fmt.Sprintf(`(document.querySelector('li[data-serial="%s"] [data-field="state"]') || {}).textContent`, serial)
}

// button is the CSS selector of a command button on a lock's card.
func button(serial, command string) chromedp.CSS {
	return chromedp.CSS(fmt.Sprintf(`li[data-serial="%s"] button[data-command="%s"]`, serial, command))
}
