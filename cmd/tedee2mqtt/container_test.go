package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// No Docker engine is needed here: these tests read the container files and check the promises
// the README makes about them, and run the Dockerfile's go build line as it is written.

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, …
	args string
	line int
}

// stage is the instructions from one FROM to the next.
type stage struct {
	from         string // image, without --platform
	platform     string
	name         string
	instructions []instruction
}

func (s stage) all(cmd string) []instruction {
	var out []instruction
	for _, in := range s.instructions {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// last returns the last instruction cmd of the stage: the one in force.
func (s stage) last(t *testing.T, cmd string) instruction {
	t.Helper()
	all := s.all(cmd)
	if len(all) == 0 {
		t.Fatalf("stage %q has no %s", s.from, cmd)
	}
	return all[len(all)-1]
}

// parseDockerfile splits a Dockerfile into stages. It handles what this project's Dockerfile uses:
// comments, blank lines and backslash continuations (comment lines inside a continuation are
// dropped, as Docker does).
func parseDockerfile(t *testing.T, path string) []stage {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stages []stage
	var cur strings.Builder
	start, n := 0, 0
	flush := func() {
		text := strings.TrimSpace(cur.String())
		cur.Reset()
		if text == "" {
			return
		}
		cmd, args, _ := strings.Cut(text, " ")
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args), line: start}
		if in.cmd == "FROM" {
			s := stage{}
			fields := strings.Fields(in.args)
			for len(fields) > 0 && strings.HasPrefix(fields[0], "--") {
				if p, ok := strings.CutPrefix(fields[0], "--platform="); ok {
					s.platform = p
				}
				fields = fields[1:]
			}
			if len(fields) == 0 {
				t.Fatalf("%s:%d: FROM without an image", path, start)
			}
			s.from = fields[0]
			if len(fields) == 3 && strings.EqualFold(fields[1], "AS") {
				s.name = fields[2]
			}
			stages = append(stages, s)
			return
		}
		if len(stages) == 0 {
			if in.cmd != "ARG" {
				t.Fatalf("%s:%d: %s before the first FROM", path, start, in.cmd)
			}
			return
		}
		stages[len(stages)-1].instructions = append(stages[len(stages)-1].instructions, in)
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || (line == "" && cur.Len() == 0) {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		if body, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(body + " ")
			continue
		}
		cur.WriteString(line)
		flush()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur.Len() > 0 {
		t.Fatalf("%s: ends inside a continuation", path)
	}
	return stages
}

// execForm parses an exec-form argument list (a JSON array of strings), failing on shell form.
func execForm(t *testing.T, in instruction, args string) []string {
	t.Helper()
	var list []string
	if err := json.Unmarshal([]byte(args), &list); err != nil {
		t.Fatalf("Dockerfile:%d: %s %s is not in exec form (a JSON array): %v", in.line, in.cmd, args, err)
	}
	return list
}

// goModVersion returns go.mod's go version as major.minor.
func goModVersion(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)(\.\d+)?\s*$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("go.mod has no go line")
	}
	return string(m[1])
}

func TestDockerfile(t *testing.T) {
	stages := parseDockerfile(t, "../../Dockerfile")
	if len(stages) < 2 {
		t.Fatalf("%d stages, want a build stage and a final stage", len(stages))
	}
	build, final := stages[0], stages[len(stages)-1]

	t.Run("build stage", func(t *testing.T) {
		if build.name != "build" || build.platform != "$BUILDPLATFORM" {
			t.Errorf("first stage is %q as %q, want --platform=$BUILDPLATFORM … AS build (cross-compile, no emulation)",
				build.platform, build.name)
		}
		want := "golang:" + goModVersion(t) + "-bookworm"
		if build.from != want {
			t.Errorf("build image %s, want %s (in step with go.mod)", build.from, want)
		}
		var args []string
		for _, in := range build.all("ARG") {
			for _, f := range strings.Fields(in.args) {
				name, _, _ := strings.Cut(f, "=")
				args = append(args, name)
			}
		}
		for _, a := range []string{"TARGETOS", "TARGETARCH", "TARGETVARIANT", "VERSION", "COMMIT"} {
			if !slices.Contains(args, a) {
				t.Errorf("build stage does not declare ARG %s", a)
			}
		}
		runs := build.all("RUN")
		download := slices.IndexFunc(runs, func(in instruction) bool { return strings.Contains(in.args, "go mod download") })
		buildRun := slices.IndexFunc(runs, func(in instruction) bool { return strings.Contains(in.args, "go build") })
		if download < 0 || buildRun < 0 {
			t.Fatalf("build stage needs a go mod download RUN and a go build RUN")
		}
		copyAll := slices.IndexFunc(build.instructions, func(in instruction) bool {
			return in.cmd == "COPY" && strings.HasPrefix(in.args, ". ")
		})
		if copyAll < 0 || runs[download].line > build.instructions[copyAll].line {
			t.Errorf("go mod download must come before COPY . (its layer is then cached across source changes)")
		}
		line := runs[buildRun].args
		for _, want := range []string{"CGO_ENABLED=0", "GOOS=$TARGETOS", "GOARCH=$TARGETARCH", "-trimpath",
			"-X main.version=$VERSION", "-X main.commit=$COMMIT", `GOARM="${TARGETVARIANT#v}"`, "./cmd/tedee2mqtt"} {
			if !strings.Contains(line, want) {
				t.Errorf("go build RUN lacks %s: %s", want, line)
			}
		}
	})

	t.Run("final stage", func(t *testing.T) {
		if !strings.HasPrefix(final.from, "gcr.io/distroless/static") && final.from != "scratch" {
			t.Errorf("final base %s, want distroless static or scratch (a static binary needs nothing else)", final.from)
		}
		user := final.last(t, "USER").args
		if u, _, _ := strings.Cut(user, ":"); u != "65532" && u != "nonroot" {
			t.Errorf("USER %s, want 65532 (nonroot)", user)
		}
		copied := false
		for _, in := range final.all("COPY") {
			f := strings.Fields(in.args)
			copied = copied || (slices.Contains(f, "--from=build") && f[len(f)-1] == "/tedee2mqtt")
		}
		if !copied {
			t.Errorf("final stage does not COPY --from=build the binary to /tedee2mqtt")
		}
		ep := final.last(t, "ENTRYPOINT")
		if got := execForm(t, ep, ep.args); !slices.Equal(got, []string{"/tedee2mqtt"}) {
			t.Errorf("ENTRYPOINT %q, want [\"/tedee2mqtt\"]", got)
		}
		hc := final.last(t, "HEALTHCHECK")
		_, cmd, ok := strings.Cut(hc.args, "CMD ")
		if !ok {
			t.Fatalf("HEALTHCHECK %s has no CMD", hc.args)
		}
		if got := execForm(t, hc, cmd); !slices.Equal(got, []string{"/tedee2mqtt", "-healthcheck"}) {
			t.Errorf("HEALTHCHECK CMD %q, want [\"/tedee2mqtt\", \"-healthcheck\"]", got)
		}
		if wd := final.last(t, "WORKDIR").args; wd != "/config" {
			t.Errorf("WORKDIR %s, want /config (where ./config.yaml is looked for)", wd)
		}
		if v := final.last(t, "VOLUME").args; v != "/data" {
			t.Errorf("VOLUME %s, want /data (state.json survives a new container)", v)
		}
		if env := final.last(t, "ENV").args; env != "TEDEE2MQTT_DATA_DIR=/data" {
			t.Errorf("ENV %s, want TEDEE2MQTT_DATA_DIR=/data", env)
		}
		chowned := false
		for _, c := range final.all("COPY") {
			chowned = chowned || (strings.Contains(c.args, "--chown=65532:65532") && strings.HasSuffix(c.args, " /data"))
		}
		if !chowned {
			t.Errorf("/data is not copied in owned by 65532: a fresh volume would not be writable")
		}
		ports := strings.Fields(final.last(t, "EXPOSE").args)
		if !slices.Contains(ports, "8080") || !slices.Contains(ports, "1883") {
			t.Errorf("EXPOSE %q, want 8080 and 1883", ports)
		}
		var labels string
		for _, in := range final.all("LABEL") {
			labels += " " + in.args
		}
		for _, key := range []string{"title", "description", "source", "licenses", "version", "revision"} {
			if !strings.Contains(labels, "org.opencontainers.image."+key+"=") {
				t.Errorf("no LABEL org.opencontainers.image.%s", key)
			}
		}
		for _, want := range []string{`version="$VERSION"`, `revision="$COMMIT"`} {
			if !strings.Contains(labels, want) {
				t.Errorf("LABEL lacks %s", want)
			}
		}
	})
}

// TestDockerfileBuildLine runs the Dockerfile's go build RUN line with sh, as the build stage
// would for this machine's platform, and checks that the result is stamped with the version and
// commit passed as build arguments. It compiles everything anew (-trimpath), so it runs alongside
// the tests that mostly wait on the broker.
func TestDockerfileBuildLine(t *testing.T) {
	t.Parallel()
	stages := parseDockerfile(t, "../../Dockerfile")
	var line string
	for _, in := range stages[0].all("RUN") {
		if strings.Contains(in.args, "go build") {
			line = in.args
		}
	}
	out := filepath.Join(t.TempDir(), "tedee2mqtt")
	if !strings.Contains(line, "-o /out/tedee2mqtt ") {
		t.Fatalf("go build line does not write /out/tedee2mqtt: %s", line)
	}
	line = strings.Replace(line, "-o /out/tedee2mqtt ", "-o "+out+" ", 1)
	cmd := exec.Command("sh", "-c", line)
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "TARGETOS="+runtime.GOOS, "TARGETARCH="+runtime.GOARCH, "TARGETVARIANT=",
		"VERSION=9.8.7-test", "COMMIT=0123abc")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", line, err, b)
	}
	var stdout bytes.Buffer
	v := exec.Command(out, "-version")
	v.Stdout = &stdout
	if err := v.Run(); err != nil {
		t.Fatalf("-version: %v", err)
	}
	if want := fmt.Sprintf("tedee2mqtt 9.8.7-test (commit 0123abc, %s)\n", runtime.Version()); stdout.String() != want {
		t.Errorf("-version printed %q, want %q", stdout.String(), want)
	}
}

// composeFile is the part of docker-compose.yml the tests look at. depends_on and environment
// may each be a list or a map in Compose; both are accepted.
type composeFile struct {
	Services map[string]struct {
		Image       string
		Build       any
		DependsOn   yaml.Node `yaml:"depends_on"`
		Ports       []string
		Volumes     []string
		Environment yaml.Node
		Profiles    []string
	}
	Volumes map[string]any
}

// nodeKeys returns the names in a list node, or the keys of a map node.
func nodeKeys(n yaml.Node) []string {
	var out []string
	switch n.Kind {
	case yaml.SequenceNode:
		for _, c := range n.Content {
			out = append(out, c.Value)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			out = append(out, n.Content[i].Value)
		}
	}
	return out
}

// env returns NAME=value pairs from a list or map node.
func env(n yaml.Node) []string {
	if n.Kind == yaml.SequenceNode {
		return nodeKeys(n)
	}
	var out []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		out = append(out, n.Content[i].Value+"="+n.Content[i+1].Value)
	}
	return out
}

func TestDockerCompose(t *testing.T) {
	b, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	svc, ok := c.Services["tedee2mqtt"]
	if !ok {
		t.Fatal("no tedee2mqtt service")
	}
	if !slices.Contains(nodeKeys(svc.DependsOn), "mosquitto") {
		t.Errorf("tedee2mqtt depends_on %q, want mosquitto", nodeKeys(svc.DependsOn))
	}
	if !slices.Contains(svc.Ports, "8080:8080") {
		t.Errorf("tedee2mqtt ports %q, want 8080:8080", svc.Ports)
	}
	if !slices.Contains(svc.Volumes, "./config.yaml:/config/config.yaml:ro") {
		t.Errorf("tedee2mqtt volumes %q, want ./config.yaml:/config/config.yaml:ro", svc.Volumes)
	}
	if svc.Build == nil {
		t.Errorf("tedee2mqtt has no build: the stack builds the image from this repository")
	}
	environ := env(svc.Environment)
	if !slices.Contains(environ, "TEDEE2MQTT_MQTT_URL=tcp://mosquitto:1883") {
		t.Errorf("tedee2mqtt environment %q, want TEDEE2MQTT_MQTT_URL=tcp://mosquitto:1883", environ)
	}
	environ = withSecretFiles(t, environ) // the Docker secrets the stack mounts, stood in for
	// Every variable the stack sets must be one tedee2mqtt knows (an unknown one is a startup
	// error), and together with the example configuration valid.
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"-check-config", "-config", "../../config.example.yaml"}, &out, &errOut, environ); err != nil {
		t.Errorf("the compose environment with config.example.yaml: %v\n%s", err, errOut.String())
	}

	mq, ok := c.Services["mosquitto"]
	if !ok {
		t.Fatal("no mosquitto service")
	}
	if !strings.HasPrefix(mq.Image, "eclipse-mosquitto:2") {
		t.Errorf("mosquitto image %s, want eclipse-mosquitto:2", mq.Image)
	}
	const confMount = "./deploy/mosquitto/mosquitto.conf:/mosquitto/config/mosquitto.conf:ro"
	if !slices.Contains(mq.Volumes, confMount) {
		t.Errorf("mosquitto volumes %q, want %s", mq.Volumes, confMount)
	}
	conf, err := os.ReadFile("../../deploy/mosquitto/mosquitto.conf")
	if err != nil {
		t.Fatal(err)
	}
	// Mosquitto 2 listens on loopback only without a listener line; persistence keeps the
	// retained state across broker restarts.
	for _, want := range []string{"listener 1883", "allow_anonymous false", "password_file /mosquitto/data/passwd",
		"persistence true", "persistence_location /mosquitto/data/"} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(want) + `\s*$`).Match(conf) {
			t.Errorf("mosquitto.conf lacks the line %q", want)
		}
	}
	for _, v := range mq.Volumes {
		if name, _, _ := strings.Cut(v, ":"); !strings.HasPrefix(name, ".") && !strings.HasPrefix(name, "/") {
			if _, ok := c.Volumes[name]; !ok {
				t.Errorf("named volume %s is not declared", name)
			}
		}
	}

	ha, ok := c.Services["homeassistant"]
	if !ok || !slices.Equal(ha.Profiles, []string{"homeassistant"}) {
		t.Errorf("homeassistant service missing or not under the homeassistant profile: %v", ha.Profiles)
	}
}
