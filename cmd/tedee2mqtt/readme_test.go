package main

// Every shell line README.md shows is executed by a test or by CI (issue 16). readmeShellLines
// extracts them as a reader would paste them; readmeChecks says, for each, what executes it; a
// line the table does not know fails TestReadmeShellLinesAreChecked, so a new line cannot go
// unchecked. The tests that run lines as written are in readme_run_test.go.

import (
	"bufio"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// readmeLine is one command of a shell code block of README.md (```sh, ```bash or ```console),
// continuation lines joined, with the output a ```console block shows after it.
type readmeLine struct {
	key    string   // the command as a reader would paste it, comment stripped, spaces collapsed
	text   string   // the command with its trailing comment stripped, continuations joined
	line   int      // where it starts in README.md
	output []string // ```console only: the lines shown after it
}

var fenceRE = regexp.MustCompile("^\\s*```(\\w*)\\s*$")

// readmeShellLines extracts every command of README.md's shell code blocks. Blank lines and whole-
// line comments are not commands; a line ending in a backslash, or inside an open quote, goes on
// with the next one. In ```console blocks only lines starting with "$ " are commands.
func readmeShellLines(t *testing.T) []readmeLine {
	t.Helper()
	f, err := os.Open("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		out     []readmeLine
		lang    string // the block's language; "" outside a shell block
		inBlock bool
		cur     strings.Builder
		start   int
	)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		raw := sc.Text()
		if m := fenceRE.FindStringSubmatch(raw); m != nil && (cur.Len() == 0 || !inBlock) {
			if inBlock {
				inBlock, lang = false, ""
			} else {
				inBlock, lang = true, m[1]
			}
			continue
		}
		if !inBlock || (lang != "sh" && lang != "bash" && lang != "console") {
			continue
		}
		line := strings.TrimSpace(raw)
		if cur.Len() == 0 {
			if lang == "console" {
				cmd, ok := strings.CutPrefix(line, "$ ")
				if !ok {
					if len(out) > 0 && line != "" {
						out[len(out)-1].output = append(out[len(out)-1].output, line)
					}
					continue
				}
				line = cmd
			}
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			start = n
		}
		if body, ok := strings.CutSuffix(line, `\`); ok && !openQuote(cur.String()+line) {
			cur.WriteString(body + " ")
			continue
		}
		cur.WriteString(line)
		if openQuote(cur.String()) {
			cur.WriteString(" ")
			continue
		}
		text := stripComment(cur.String())
		cur.Reset()
		out = append(out, readmeLine{key: strings.Join(strings.Fields(text), " "), text: text, line: start})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur.Len() > 0 {
		t.Fatalf("README.md:%d: a shell line never ends (an open quote or a trailing backslash)", start)
	}
	return out
}

// openQuote reports whether s ends inside a single- or double-quoted string.
func openQuote(s string) bool {
	var q rune
	for _, r := range s {
		switch {
		case q == 0 && (r == '\'' || r == '"'):
			q = r
		case r == q:
			q = 0
		}
	}
	return q != 0
}

// stripComment removes a trailing shell comment: a # at the start of a word, outside quotes.
func stripComment(s string) string {
	var q rune
	for i, r := range s {
		switch {
		case q == 0 && (r == '\'' || r == '"'):
			q = r
		case r == q:
			q = 0
		case q == 0 && r == '#' && (i == 0 || s[i-1] == ' ' || s[i-1] == '\t'):
			return strings.TrimSpace(s[:i])
		}
	}
	return strings.TrimSpace(s)
}

// readmeCheck says what executes a README line. Exactly one of test, ci and notYet is set.
type readmeCheck struct {
	// test is a test of this package that runs the line (or, with why, checks it).
	test string
	// ci is "<file>: <text>": the CI step in that file (.ci/run, deploy/test-image.sh) that runs it.
	ci string
	// why, when the line is not run as written: the reason, and what is checked instead.
	why string
	// notYet: nothing executes the line yet; why not.
	notYet string
}

// readmeChecks maps each README shell line (its key: comment stripped, spaces collapsed) to what
// executes it. Where a line runs with ports or paths substituted (loopback ports, a temporary
// root for /etc and /usr/local), the test says so next to the substitution.
var readmeChecks = map[string]readmeCheck{
	// Quick start, demo, worked example.
	"go run ./cmd/tedee2mqtt":       {test: "TestEmbeddedReadmeQuickStart"},
	"go test ./...":                 {ci: ".ci/run: go test -race -count=1 -v ./..."},
	"go run ./cmd/tedee2mqtt -demo": {test: "TestEmbeddedDemo"},
	readmePostWebhook:               {test: "TestReadmeWorkedExample"},
	readmeSubAll:                    {test: "TestReadmeWorkedExample"}, // and TestReadmeFakeBridgeWalkthrough
	readmeGetWebhook:                {test: "TestReadmeWorkedExample"},
	readmeNoParamsWebhook:           {test: "TestReadmeWorkedExample"},
	readmeRegisterCallback:          {test: "TestReadmeWebhooksOnly"},
	readmeFakeBridge:                {test: "TestReadmeFakeBridgeWalkthrough"},
	readmeServiceOnFakeBridge:       {test: "TestReadmeFakeBridgeWalkthrough"},
	readmeOpenCommand:               {test: "TestReadmeFakeBridgeWalkthrough"},
	readmeHealthCheck:               {test: "TestReadmeOperatorAndStatusPage"},
	readmeAPIState:                  {test: "TestReadmeOperatorAndStatusPage"},
	readmeAPIEvents:                 {test: "TestReadmeOperatorAndStatusPage"},
	readmeCheckConfig:               {test: "TestReadmeCheckConfig"},
	readmeCloudSettingsSet:          {test: "TestReadmeCloudSettings"},
	// Running in Docker, Compose, systemd, upgrading.
	readmeCopyConfig:    {test: "TestReadmeDockerLines"},
	readmeMQTTPassword:  {test: "TestReadmeDockerLines"},
	readmeBuildBinary:   {test: "TestReadmeBuildAndInstall"},
	readmeInstallBinary: {test: "TestReadmeBuildAndInstall"},
	readmeInstallLine0:  {test: "TestReadmeBuildAndInstall"},
	readmeInstallLine1:  {test: "TestReadmeBuildAndInstall"},
	readmeInstallLine2:  {test: "TestReadmeBuildAndInstall"},
	readmeInstallLine3:  {test: "TestReadmeBuildAndInstall"},
	readmeCheckNew:      {test: "TestReadmeBuildAndInstall"},
	readmeSystemctl: {test: "TestReadmeBuildAndInstall", why: "no systemd runs here: the unit the lines installed is " +
		"checked instead (its name, [Install], the binary and config it names), its ExecStartPre is run as systemd " +
		"would, and .ci/run verifies it with systemd-analyze verify"},
	readmeJournal: {test: "TestReadmeBuildAndInstall", why: "no systemd runs here: the unit it names is the one installed"},
	readmeDockerBuild: {ci: "deploy/test-image.sh: build -q --format docker --pull=never --network=none",
		why: "no Docker engine here: podman builds the same Dockerfile with the same build arguments"},
	readmeDockerRun: {ci: `deploy/test-image.sh: run_readme 'docker run -d --name tedee2mqtt --restart unless-stopped \'`,
		why: "no Docker engine here: podman runs it, as written, in a network namespace of its own"},
	readmeDockerRunEnv: {ci: `deploy/test-image.sh: run_readme 'docker run -d --name tedee2mqtt --restart unless-stopped -p 8080:8080 \'`,
		why: "no Docker engine here: podman runs it, as written, in a network namespace of its own"},
	readmeDockerCheckNew: {ci: `deploy/test-image.sh: run_readme 'docker run --rm -v ./config.yaml:/config/config.yaml:ro tedee2mqtt'`,
		why: "no Docker engine here: podman runs it, with the image built tagged NEW too"},
	readmeBuildx: {test: "TestDockerfileBuildLine", why: "no registry and no buildx here: each platform runs the " +
		"Dockerfile's go build line, which TestDockerfileBuildLine runs for this machine's platform"},
	readmeAptGet:    {test: "TestReadmeDockerLines", why: "it installs system packages: checked to be what deploy/test-image.sh needs"},
	readmeImageTest: {ci: ".ci/run: bash deploy/test-image.sh"},
	readmeComposeUp: {ci: "deploy/test-image.sh: up -d --no-build mosquitto tedee2mqtt",
		why: "no Docker engine here: podman-compose brings up the same docker-compose.yml"},
	readmeComposeHA: {test: "TestDockerCompose", why: "Home Assistant's image cannot be fetched here (no registry): the " +
		"profile is checked, and .ci/run validates the file with docker-compose config"},
	readmeComposeLogs: {test: "TestReadmeDockerLines", why: "it only follows logs: the service it names is checked to exist"},
}

// TestReadmeShellLinesAreChecked: every shell line of the README is in readmeChecks, every entry
// of readmeChecks is still in the README, and what each entry names exists: the test function
// in this package, or the text in the CI file.
func TestReadmeShellLinesAreChecked(t *testing.T) {
	seen := map[string]bool{}
	for _, l := range readmeShellLines(t) {
		seen[l.key] = true
		if _, ok := readmeChecks[l.key]; !ok {
			t.Errorf("README.md:%d: no test or CI step executes this line; run it in readme_run_test.go (or name "+
				"what runs it) and add it to readmeChecks:\n%s", l.line, l.key)
		}
	}
	tests := testFuncs(t)
	for _, key := range slices.Sorted(maps.Keys(readmeChecks)) {
		c := readmeChecks[key]
		if !seen[key] {
			t.Errorf("readmeChecks has a line the README no longer shows: %s", key)
		}
		set := 0
		for _, s := range []string{c.test, c.ci, c.notYet} {
			if s != "" {
				set++
			}
		}
		if set != 1 {
			t.Errorf("%s: name exactly one of test, ci, notYet", key)
		}
		switch {
		case c.test != "" && !tests[c.test]:
			t.Errorf("%s: no func %s in this package's tests", key, c.test)
		case c.ci != "":
			file, text, ok := strings.Cut(c.ci, ": ")
			b, err := os.ReadFile("../../" + file)
			if !ok || err != nil || !strings.Contains(string(b), text) {
				t.Errorf("%s: %q does not run it: %v", key, c.ci, err)
			}
		case c.notYet != "":
			t.Logf("not yet executed: %s (%s)", key, c.notYet)
		}
	}
}

// testFuncs returns the names of the Test functions declared in this package's test files.
func testFuncs(t *testing.T) map[string]bool {
	t.Helper()
	files, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	decl := regexp.MustCompile(`(?m)^func (Test\w+)\(t \*testing\.T\)`)
	out := map[string]bool{}
	for _, f := range files {
		if !strings.HasSuffix(f.Name(), "_test.go") {
			continue
		}
		b, err := os.ReadFile(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range decl.FindAllStringSubmatch(string(b), -1) {
			out[m[1]] = true
		}
	}
	return out
}

// readmeCommand returns the README's line with this key, failing the test when it is gone.
func readmeCommand(t *testing.T, key string) readmeLine {
	t.Helper()
	for _, l := range readmeShellLines(t) {
		if l.key == key {
			return l
		}
	}
	t.Fatalf("the README no longer shows %s", key)
	return readmeLine{}
}

// substitute applies old→new pairs to a README line, failing if one does not occur: a test must
// never quietly run something other than what the README shows.
func substitute(t *testing.T, line string, oldnew ...string) string {
	t.Helper()
	for i := 0; i+1 < len(oldnew); i += 2 {
		if !strings.Contains(line, oldnew[i]) {
			t.Fatalf("%q is not in the README line %s", oldnew[i], line)
		}
		line = strings.ReplaceAll(line, oldnew[i], oldnew[i+1])
	}
	return line
}
