package main

import (
	"bytes"
	"context"
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

// copyInto copies repository files into dir, keeping their relative paths.
func copyInto(t *testing.T, dir string, files ...string) {
	t.Helper()
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(repoRoot, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != want {
		t.Errorf("%s has mode %v, want %v", path, info.Mode().Perm(), want)
	}
}

// dockerRun is the part of a `docker run` line the tests look at.
type dockerRun struct {
	env, mounts, ports []string
	image              string
}

func parseDockerRun(t *testing.T, line string) dockerRun {
	t.Helper()
	f := strings.Fields(line)
	if len(f) < 3 || f[0] != "docker" || f[1] != "run" {
		t.Fatalf("not a docker run line: %s", line)
	}
	var r dockerRun
	for i := 2; i < len(f); i++ {
		switch f[i] {
		case "-e":
			i++
			r.env = append(r.env, f[i])
		case "-v":
			i++
			r.mounts = append(r.mounts, f[i])
		case "-p":
			i++
			r.ports = append(r.ports, f[i])
		case "--name", "--restart":
			i++
		case "-d", "--rm":
		default:
			r.image = f[i]
			return r
		}
	}
	t.Fatalf("no image in %s", line)
	return r
}

// TestReadmeDockerLines runs the Docker and Compose sections' lines that need no Docker engine,
// and checks the others against the image and the compose file they use.
func TestReadmeDockerLines(t *testing.T) {
	dir := t.TempDir()
	copyInto(t, dir, "config.example.yaml")
	mustShell(t, dir, readmeCommand(t, readmeCopyConfig).text)
	checkMode(t, filepath.Join(dir, "config.yaml"), 0o644) // readable by the image's user 65532
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatalf("openssl is needed to run %s: %v", readmeMQTTPassword, err)
	}
	mustShell(t, dir, readmeCommand(t, readmeMQTTPassword).text)
	checkMode(t, filepath.Join(dir, "mqtt_password"), 0o644)
	if b, _ := os.ReadFile(filepath.Join(dir, "mqtt_password")); !regexp.MustCompile(`^[0-9a-f]{48}\n$`).Match(b) {
		t.Errorf("mqtt_password holds %q, want 48 hex digits", b)
	}

	stages := parseDockerfile(t, "../../Dockerfile")
	final := stages[len(stages)-1]
	run := parseDockerRun(t, readmeCommand(t, readmeDockerRun).key)
	workdir, volume := final.last(t, "WORKDIR").args, final.last(t, "VOLUME").args
	wantMounts := []string{"./config.yaml:" + workdir + "/config.yaml:ro", "tedee2mqtt-data:" + volume}
	if !slices.Equal(run.mounts, wantMounts) || !slices.Equal(run.ports, []string{"8080:8080"}) || run.image != "tedee2mqtt" {
		t.Errorf("%s: mounts %q, ports %q, image %s; want %q (the image's ./config.yaml and volume), 8080:8080 (http.listen's "+
			"default), tedee2mqtt (as built)", readmeDockerRun, run.mounts, run.ports, run.image, wantMounts)
	}

	// The environment-only line: its variables and the secret file it mounts pass -check-config.
	run = parseDockerRun(t, readmeCommand(t, readmeDockerRunEnv).key)
	secret := filepath.Join(dir, "http_secret")
	if err := os.WriteFile(secret, []byte("stand-in-secret-0123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var environ []string
	for _, kv := range run.env {
		k, v, _ := strings.Cut(kv, "=")
		if strings.HasSuffix(k, "_FILE") {
			if !slices.Contains(run.mounts, "./http_secret:"+v+":ro") {
				t.Errorf("%s reads %s, which the line does not mount", k, v)
			}
			v = secret
		}
		environ = append(environ, k+"="+v)
	}
	var out, errOut bytes.Buffer
	if err := runCheck(environ, &out, &errOut); err != nil {
		t.Errorf("%s: its environment fails -check-config: %v\n%s", readmeDockerRunEnv, err, errOut.String())
	}

	// Compose: the service the logs line follows exists.
	var compose struct{ Services map[string]any }
	b, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &compose); err != nil {
		t.Fatal(err)
	}
	if f := strings.Fields(readmeComposeLogs); compose.Services[f[len(f)-1]] == nil {
		t.Errorf("%s: docker-compose.yml has no such service", readmeComposeLogs)
	}

	// The packages the image test needs are the ones the README installs.
	script, err := os.ReadFile("../../deploy/test-image.sh")
	if err != nil {
		t.Fatal(err)
	}
	var need []string
	for _, m := range regexp.MustCompile(`need_pkgs\+=\(([^)]+)\)`).FindAllStringSubmatch(string(script), -1) {
		need = append(need, m[1])
	}
	apt := strings.Fields(strings.TrimPrefix(readmeAptGet, "sudo apt-get install --no-install-recommends "))
	slices.Sort(need)
	slices.Sort(apt)
	if len(need) == 0 || !slices.Equal(need, apt) {
		t.Errorf("the README installs %q; deploy/test-image.sh needs %q", apt, need)
	}
}

// runCheck is `tedee2mqtt -check-config` with no configuration file but the environment.
func runCheck(environ []string, out, errOut *bytes.Buffer) error {
	return run(context.Background(), []string{"-check-config", "-config", "/dev/null"}, out, errOut, environ)
}

// TestReadmeBuildAndInstall runs "Bare binary and systemd" and the upgrade's checks: the go build
// and go install lines (the version and commit they stamp), the install lines into a temporary root
// standing for / (/usr/local/bin and /etc/systemd/system exist there, as on any system), the
// unit's ExecStartPre as systemd would run it, and -check-config on the installed configuration.
func TestReadmeBuildAndInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary twice")
	}
	head := strings.TrimSpace(mustShell(t, repoRoot, "git rev-parse HEAD"))
	want := "tedee2mqtt 1.2.3 (commit " + head + ", " + runtime.Version() + ")\n"
	work := t.TempDir()
	mustShell(t, repoRoot, substitute(t, readmeCommand(t, readmeBuildBinary).text, "-o tedee2mqtt ", "-o "+work+"/tedee2mqtt "))
	gobin := t.TempDir()
	mustShell(t, repoRoot, readmeCommand(t, readmeInstallBinary).text, "GOBIN="+gobin)
	for _, bin := range []string{filepath.Join(work, "tedee2mqtt"), filepath.Join(gobin, "tedee2mqtt")} {
		if got := mustShell(t, work, bin+" -version"); got != want {
			t.Errorf("%s -version printed %q, want %q", bin, got, want)
		}
	}

	root := t.TempDir()
	for _, d := range []string{"usr/local/bin", "etc/systemd/system"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	copyInto(t, work, "config.example.yaml", "deploy/tedee2mqtt.service")
	for _, key := range []string{readmeInstallLine0, readmeInstallLine1, readmeInstallLine2, readmeInstallLine3} {
		line := substitute(t, readmeCommand(t, key).text, "sudo ", "")
		line = strings.NewReplacer(" /usr/", " "+root+"/usr/", " /etc/", " "+root+"/etc/").Replace(line)
		mustShell(t, work, line)
	}
	checkMode(t, root+"/usr/local/bin/tedee2mqtt", 0o755)
	checkMode(t, root+"/etc/tedee2mqtt", 0o700)
	checkMode(t, root+"/etc/tedee2mqtt/config.yaml", 0o600)
	checkMode(t, root+"/etc/systemd/system/tedee2mqtt.service", 0o644)

	// systemctl enable --now and journalctl name the unit installed; it starts the installed binary
	// on the installed configuration, handed over as a credential.
	unitPath := root + "/etc/systemd/system/tedee2mqtt.service"
	unit := mustRead(t, unitPath)
	for _, key := range []string{readmeSystemctl, readmeJournal} {
		if !slices.Contains(strings.Fields(readmeCommand(t, key).key), strings.TrimSuffix(filepath.Base(unitPath), ".service")) {
			t.Errorf("%s does not name the unit installed, %s", key, filepath.Base(unitPath))
		}
	}
	for _, want := range []string{"\n[Install]\nWantedBy=multi-user.target\n", "\nLoadCredential=config.yaml:/etc/tedee2mqtt/config.yaml\n"} {
		if !strings.Contains(unit, want) {
			t.Errorf("the unit lacks %q", strings.TrimSpace(want))
		}
	}
	pre := regexp.MustCompile(`(?m)^ExecStartPre=(.*)$`).FindStringSubmatch(unit)
	if pre == nil || !strings.HasPrefix(pre[1], "/usr/local/bin/tedee2mqtt ") {
		t.Fatalf("the unit's ExecStartPre does not run the installed binary: %v", pre)
	}
	creds := t.TempDir() // systemd's private copy of LoadCredential's file
	copyFile(t, root+"/etc/tedee2mqtt/config.yaml", filepath.Join(creds, "config.yaml"))
	mustShell(t, work, strings.NewReplacer("/usr/local/bin/", root+"/usr/local/bin/", "${CREDENTIALS_DIRECTORY}", creds).Replace(pre[1]))

	// Upgrading, step 1: the new binary checks the installed configuration; and in Docker, the
	// image's working directory holds the mounted config.yaml, read with no -config.
	line := substitute(t, readmeCommand(t, readmeCheckNew).text, "/path/to/new/tedee2mqtt", root+"/usr/local/bin/tedee2mqtt",
		"/etc/tedee2mqtt/", root+"/etc/tedee2mqtt/")
	if out := mustShell(t, work, line); !strings.Contains(out, "configuration is valid") {
		t.Errorf("%s printed %q", readmeCheckNew, out)
	}
	image := t.TempDir()
	copyFile(t, filepath.Join(work, "config.example.yaml"), filepath.Join(image, "config.yaml"))
	args := strings.Fields(readmeDockerCheckNew)
	if out := mustShell(t, image, filepath.Join(work, "tedee2mqtt")+" "+args[len(args)-1]); out != "config.yaml: configuration is valid\n" {
		t.Errorf("%s printed %q", readmeDockerCheckNew, out)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	if err := os.WriteFile(to, []byte(mustRead(t, from)), 0o600); err != nil {
		t.Fatal(err)
	}
}
