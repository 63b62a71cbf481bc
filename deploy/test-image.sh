#!/usr/bin/env bash
# Builds the container image from the project's Dockerfile and runs it for real, with podman and
# without any registry or network (issue 21). Run by .ci/run; locally: `sudo deploy/test-image.sh`.
#
# What it checks, in order:
#   1. the Dockerfile builds offline (--pull=never --network=none) in Docker format (the OCI
#      format drops HEALTHCHECK); the image's size is reported;
#   2. the image runs as uid/gid 65532 with no capabilities (effective, permitted, inheritable,
#      ambient all empty), with its config read from the file mounted at /config/config.yaml;
#   3. /healthz answers, `tedee2mqtt -healthcheck` inside the container and `podman healthcheck
#      run` (the image's HEALTHCHECK) report healthy, and /readyz says MQTT is connected;
#   4. a webhook sent to the container reaches a Mosquitto on the host's loopback, as retained
#      tedee/<serial>/state;
#   5. state.json lands on the /data volume (owned by 65532) and survives a container restart:
#      with the broker restarted empty meanwhile, the restarted container restores the lock from
#      the volume and publishes its state again;
#   6. `podman stop` exits 0 within 5 s, the service exits 0, and `offline` is published on
#      tedee/status;
#   7. the compose stack (docker-compose.yml as it is, with podman-compose): Mosquitto refuses
#      anonymous clients and lets in the user tedee2mqtt with ./mqtt_password; tedee2mqtt reaches
#      it by its service name with those credentials, is ready (/readyz) and healthy; a webhook on
#      port 8080 reaches the broker; state.json lands on the tedee2mqtt-data volume; both
#      containers run read-only, with no capabilities, no-new-privileges and their own users.
#      Before it, the README's own lines run as written (run_readme; `docker` is podman here): the
#      two that make config.yaml and mqtt_password, and (7a) its three `docker run` lines.
#
# Stand-ins: no registry is reachable here, so the Dockerfile's two base images are replaced by
# local images tagged with the upstream names, built by this script and removed afterwards:
#   - golang:1.26-bookworm: a Debian bookworm userland taken from this machine's own installed
#     packages (dpkg; the essential ones and their libraries), this machine's Go at /usr/local/go
#     (the go line of go.mod must match its major.minor), and the module cache pre-filled with
#     go.mod's dependencies (GOPROXY=off inside: the build stage's `go mod download` finds them);
#   - gcr.io/distroless/static-debian12:nonroot: a scratch image with what distroless/static
#     has: /etc/passwd and /etc/group with root, nobody and nonroot (65532), CA certificates,
#     tzdata, /tmp, /home/nonroot, USER 65532;
#   - eclipse-mosquitto:2 (compose part): Debian's mosquitto package from the same userland, with
#     the upstream image's paths (/mosquitto/config, /mosquitto/data) and user mosquitto (1883).
#
# Isolation: everything podman keeps for this run (storage, state, volumes, network configs) lives
# in one temporary directory, and podman runs in a private mount namespace with its own /dev/shm
# (podman's lock segment), so a developer's own podman containers and images, including real
# images of the same names, are neither seen nor changed; the CNI plugins' state and the network
# namespaces' mount points are private to it too. The single-image part uses the host's network
# and listens on free loopback ports only. The compose stack runs in a network namespace of its
# own (ip netns), where its published ports 1883 and 8080, podman's bridge, firewall rules and the
# compose network's DNS server stay. Everything is removed on exit, also on failure or
# interruption (TERM, Ctrl-C).
#
# Needs: root (rootful podman), Debian (dpkg, for the build stage's userland), Go at
# /usr/local/go, podman with runc, podman-compose and CNI's dnsname plugin, mosquitto and
# mosquitto-clients, curl, iproute2. Under CI=true, missing ones are installed with apt-get;
# otherwise the script says what is missing and installs nothing.
# Environment: KEEP_IMAGE_TEST=1 keeps the temporary directory for a look afterwards (containers
# and images are removed all the same).
set -euo pipefail
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
cd "$(dirname "$self")/.."
repo=$PWD

say() { echo "--- image: $*"; }
fail() { echo "FAIL image: $*" >&2; exit 1; }

if [ "$(id -u)" -ne 0 ]; then
  fail "needs root (rootful podman and a private mount namespace): sudo $0"
fi

# --- tools ------------------------------------------------------------------------------------
need_pkgs=()
command -v podman >/dev/null 2>&1 || need_pkgs+=(podman)
command -v runc >/dev/null 2>&1 || need_pkgs+=(runc)
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need_pkgs+=(mosquitto)
command -v mosquitto_sub >/dev/null 2>&1 || need_pkgs+=(mosquitto-clients)
command -v curl >/dev/null 2>&1 || need_pkgs+=(curl)
command -v openssl >/dev/null 2>&1 || need_pkgs+=(openssl) # the README's mqtt_password line
command -v podman-compose >/dev/null 2>&1 || need_pkgs+=(podman-compose)
# Service names (mosquitto) resolve on a compose network through CNI's dnsname plugin.
[ -x /usr/lib/cni/dnsname ] || need_pkgs+=(golang-github-containernetworking-plugin-dnsname)
command -v ip >/dev/null 2>&1 || need_pkgs+=(iproute2)
command -v dpkg-query >/dev/null 2>&1 || fail "needs a Debian machine (dpkg) for the build stage's stand-in userland"
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "${CI:-}" != true ]; then
    fail "missing: ${need_pkgs[*]} (install them, e.g. apt-get install --no-install-recommends ${need_pkgs[*]}; CI=true installs them itself)"
  fi
  say "installing ${need_pkgs[*]}"
  apt-get update -qq -o Acquire::Retries=3
  # runc, not crun: crun fails on this machine's cgroup setup. No recommends: they bring buildah,
  # fuse-overlayfs and slirp4netns, none of which rootful podman needs here.
  timeout 300 env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o Acquire::Retries=3 \
    -o DPkg::Lock::Timeout=120 --no-install-recommends "${need_pkgs[@]}" >/dev/null
  if [[ " ${need_pkgs[*]} " == *" mosquitto "* ]]; then
    # Debian starts a system broker on port 1883 after install; nothing here uses it.
    (systemctl stop mosquitto || service mosquitto stop) >/dev/null 2>&1 || true
  fi
fi
mosquitto_bin=$(command -v mosquitto || echo /usr/sbin/mosquitto)

# --- a private mount namespace --------------------------------------------------------------
# Re-run in a mount namespace of its own with a private /dev/shm: podman's lock segment
# (/dev/shm/libpod_lock) is shared by every podman of the machine, and a podman starting on new
# storage frees all its locks, which would pull them from under a developer's own containers.
if [ -z "${TEDEE2MQTT_IMAGE_TEST_NS:-}" ]; then
  exec unshare --mount --propagation private env TEDEE2MQTT_IMAGE_TEST_NS=1 bash "$self" "$@"
fi
mount -t tmpfs -o size=64m,mode=1777 tmpfs /dev/shm
# Also private: the network namespaces' mount points and the CNI plugins' state (addresses handed
# out, the compose network's DNS), so that nothing of them outlives this run.
for d in /run/netns /var/lib/cni /run/containers/cni; do
  mkdir -p "$d" && mount -t tmpfs -o size=16m,mode=0755 tmpfs "$d"
done

started=$(date +%s)
work=$(mktemp -d "${TMPDIR:-/var/tmp}/tedee2mqtt-image-test.XXXXXX")
chmod 0755 "$work"
mkdir -p "$work/networks" "$work/tmp"
export TMPDIR=$work/tmp # podman build's temporary content

# Without systemd, podman cannot set up the timer that runs health checks by itself, and says so on
# every start; the checks are run here with `podman healthcheck run` instead.
no_timer_noise() { grep -v 'unable to get systemd connection' >&2 || true; }
# pm is podman on this run's own storage; every podman call of this script goes through it.
# --runtime runc: crun fails on this cgroup setup. --events-backend file: no journald needed.
pm_in=() # nsenter into the compose stack's network namespace, once there is one
pm_args=(--root "$work/storage" --runroot "$work/run" --tmpdir "$work/libpod" --volumepath "$work/volumes"
  --network-config-dir "$work/networks" --runtime runc --cgroup-manager cgroupfs --events-backend file)
pm() { "${pm_in[@]}" podman "${pm_args[@]}" "$@" 2> >(no_timer_noise); }
# Explicit limits: without them the container gets podman's defaults, which runc rejects here.
ulimits=(--ulimit nofile=20000:20000 --ulimit nproc=32768:32768)


img=localhost/tedee2mqtt:image-test
golang_standin=docker.io/library/golang:1.26-bookworm
distroless_standin=gcr.io/distroless/static-debian12:nonroot
mosquitto_standin=docker.io/library/eclipse-mosquitto:2
app=tedee2mqtt-image-test
mosq_pid=
ns=
bg_pid= # the long podman build, run in the background so that a signal reaches the trap at once

cleanup() {
  local status=$?
  set +e
  trap - EXIT INT TERM
  if [ "$status" -ne 0 ] && [ -d "$work/storage" ]; then
    for c in $(pm ps -a --format '{{.Names}}' 2>/dev/null); do
      echo "--- image: logs of $c (failed with status $status):"
      pm logs --tail 40 "$c" 2>&1 | sed 's/^/    /'
    done
  fi
  [ -n "$bg_pid" ] && kill "$bg_pid" 2>/dev/null && wait "$bg_pid" 2>/dev/null
  [ -n "$mosq_pid" ] && kill "$mosq_pid" 2>/dev/null && wait "$mosq_pid" 2>/dev/null
  if [ -d "$work/storage" ]; then
    pm rm -af -t 0 >/dev/null 2>&1
    pm pod rm -af >/dev/null 2>&1
    pm volume rm -af >/dev/null 2>&1
    for n in $(pm network ls -q 2>/dev/null); do
      [ "$n" = podman ] || pm network rm -f "$n" >/dev/null 2>&1
    done
    pm rmi -af >/dev/null 2>&1
  fi
  if [ -n "$ns" ]; then
    # What podman's network plugins left running in the namespace (dnsmasq), then the namespace.
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill "$p" 2>/dev/null; done
    ip netns delete "$ns" 2>/dev/null
  fi
  # Whatever podman left mounted under the work directory (overlay, its private bind), deepest
  # first, then the directory itself.
  findmnt -rn -o TARGET | grep -F "$work" | sort -r | while read -r m; do umount -l "$m"; done
  if [ -n "${KEEP_IMAGE_TEST:-}" ]; then
    echo "--- image: kept $work"
  else
    rm -rf "$work"
  fi
  echo "--- image: cleaned up ($(($(date +%s) - started)) s in all)"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# free_port prints a TCP port that nothing listens on, on loopback.
free_port() {
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 40000))
    if [ -z "$(ss -Htln "sport = :$p")" ]; then echo "$p"; return 0; fi
  done
  fail "no free port"
}

# wait_for DESCRIPTION SECONDS COMMAND...: runs COMMAND every 0.2 s until it succeeds.
wait_for() {
  local what=$1 secs=$2; shift 2
  local end=$(($(date +%s) + secs))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$end" ] || fail "$what: not within ${secs}s"
    sleep 0.2
  done
}

# debian_userland DIR PACKAGE...: copies into DIR the files of the installed Debian packages named
# and, transitively, of the installed packages they depend on (first alternative of each), less
# documentation; merged-/usr paths (/bin is /usr/bin on bookworm) are kept as on the machine.
debian_userland() {
  local dir=$1; shift
  local -A seen=()
  local queue=("$@") p d deps
  while [ ${#queue[@]} -gt 0 ]; do
    p=${queue[0]}; queue=("${queue[@]:1}")
    [ -z "${seen[$p]:-}" ] || continue
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] || continue
    seen[$p]=1
    IFS=',' read -ra deps <<<"$(dpkg-query -W -f='${Depends},${Pre-Depends}' "$p")"
    for d in "${deps[@]}"; do
      d=${d%%|*}; d=${d%%(*}; d=${d%%:*}; d=${d// /}
      [ -z "$d" ] || queue+=("$d")
    done
  done
  dpkg-query -L "${!seen[@]}" 2>/dev/null |
    grep -v -E '^/\.?$|^/usr/share/(doc|man|info|locale|lintian)(/|$)|^/(bin|sbin|lib|lib64)$' |
    sed -E 's,^/(bin|sbin|lib|lib64)/,/usr/\1/,' | sort -u |
    while read -r f; do if [ -e "$f" ] || [ -L "$f" ]; then echo "${f#/}"; fi; done >"$dir.files"
  mkdir -p "$dir"
  tar -cf - -C / --no-recursion bin sbin lib lib64 -T "$dir.files" | tar -xf - -C "$dir"
  rm -f "$dir.files"
}

# run_readme PREFIX: runs, with bash in the current directory, the shell line of README.md that
# starts with PREFIX (continuation lines joined, a trailing comment dropped), as a reader pastes
# it; `docker` is the function below. Fails when the README no longer shows such a line.
run_readme() {
  local line
  line=$(README_PREFIX=$1 awk '
    /^[[:space:]]*```/ { inblock = !inblock; next }
    { l = $0; sub(/^[[:space:]]+/, "", l) }
    inblock && !found && index(l, ENVIRON["README_PREFIX"]) == 1 { found = 1 }
    found { if (sub(/\\$/, "", l)) { printf "%s ", l; next } print l; exit }
  ' "$repo/README.md" | sed 's/[[:space:]]\{1,\}#[^'"'"'"]*$//')
  [ -n "$line" ] || fail "README.md shows no shell line starting with: $1"
  echo "    \$ $line"
  eval "$line"
}
# docker, for the README's lines: podman on this run's storage, in the compose stack's network
# namespace (its -p 8080:8080 stays there), with the explicit limits podman needs here.
docker() {
  case $1 in
    run) shift; pm run "${ulimits[@]}" "$@" ;;
    rm) shift; pm rm "$@" ;;
    *) fail "docker $1: the README's docker lines run here are run and rm" ;;
  esac
}

# --- stand-in base images ------------------------------------------------------------------
gover=$(/usr/local/go/bin/go env GOVERSION)
say "stand-in for golang:1.26-bookworm (this machine's bookworm packages and its $gover)"
modver=$(sed -n 's/^go \([0-9]*\.[0-9]*\).*/\1/p' go.mod)
case "$gover" in
  "go$modver" | "go$modver".*) ;;
  *) fail "/usr/local/go is $gover, go.mod wants go $modver: the stand-in would not be golang:$modver" ;;
esac
# A minimal bookworm userland for the build stage: a shell, coreutils and what they need.
stage=$work/golang-root
debian_userland "$stage" base-files bash coreutils dash debianutils diffutils findutils grep gzip sed tar libc-bin
tar -cf - -C / --exclude=usr/local/go/test --exclude=usr/local/go/doc --exclude=usr/local/go/api \
  --exclude=usr/local/go/misc usr/local/go | tar -xf - -C "$stage"
mkdir -p "$stage/etc" "$stage/tmp" "$stage/go/bin" "$stage/root"
chmod 1777 "$stage/tmp"
printf 'root:x:0:0:root:/root:/bin/bash\n' >"$stage/etc/passwd"
printf 'root:x:0:\n' >"$stage/etc/group"
# go.mod's modules, from this machine's module cache where it has them, else from the module proxy.
# As the Dockerfile's first RUN does it: go.mod and go.sum alone (and not in the tree, which it
# might touch).
proxy="file://$(/usr/local/go/bin/go env GOMODCACHE)/cache/download,$(/usr/local/go/bin/go env GOPROXY)"
mkdir -p "$work/mod" && cp go.mod go.sum "$work/mod/"
(cd "$work/mod" && GOFLAGS=-modcacherw GOMODCACHE=$stage/go/pkg/mod GOPROXY=$proxy /usr/local/go/bin/go mod download)
rm -rf "$work/mod"
tar -cf "$work/golang.tar" --numeric-owner -C "$stage" .
pm import -q \
  --change 'ENV PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV GOPATH=/go' --change 'ENV GOTOOLCHAIN=local' --change 'ENV GOPROXY=off' \
  --change 'WORKDIR /go' "$work/golang.tar" "$golang_standin" >/dev/null
rm -f "$work/golang.tar"; rm -rf "$stage"

say "stand-in for gcr.io/distroless/static-debian12:nonroot (scratch, passwd with nonroot 65532, CA certificates, tzdata)"
stage=$work/distroless-root
mkdir -p "$stage/etc/ssl/certs" "$stage/tmp" "$stage/home/nonroot" "$stage/usr/share"
chmod 1777 "$stage/tmp"
chown 65532:65532 "$stage/home/nonroot"; chmod 0700 "$stage/home/nonroot"
cat >"$stage/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
EOF
printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' >"$stage/etc/group"
printf 'hosts: files dns\n' >"$stage/etc/nsswitch.conf"
cp /etc/ssl/certs/ca-certificates.crt "$stage/etc/ssl/certs/"
if [ -d /usr/share/zoneinfo ]; then cp -a /usr/share/zoneinfo "$stage/usr/share/"; fi
tar -cf "$work/distroless.tar" --numeric-owner -C "$stage" .
pm import -q --change 'USER 65532' --change 'WORKDIR /home/nonroot' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  "$work/distroless.tar" "$distroless_standin" >/dev/null
rm -f "$work/distroless.tar"; rm -rf "$stage"

# --- 1. build --------------------------------------------------------------------------------
say "podman build --format docker --pull=never --network=none (the project's Dockerfile)"
t0=$(date +%s)
podman "${pm_args[@]}" build -q --format docker --pull=never --network=none "${ulimits[@]}" \
  --build-arg TARGETOS=linux --build-arg TARGETARCH="$(/usr/local/go/bin/go env GOARCH)" \
  --build-arg VERSION=image-test --build-arg COMMIT="$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
  -t "$img" -f Dockerfile . >"$work/build.log" 2>&1 &
bg_pid=$!
rc=0; wait "$bg_pid" || rc=$?
bg_pid=
if [ "$rc" -ne 0 ]; then
  tail -40 "$work/build.log"; fail "podman build failed (exit status $rc)"
fi
size=$(pm image inspect -f '{{.Size}}' "$img")
say "built in $(($(date +%s) - t0)) s; image size $((size / 1000 / 1000)) MB ($size bytes; target under 20 MB)"
[ "$(pm image inspect -f '{{.Config.User}}' "$img")" = 65532:65532 ] || fail "image USER is not 65532:65532"
hc=$(pm image inspect -f '{{.Config.Healthcheck}}' "$img")
[[ "$hc" == *-healthcheck* ]] || fail "image has no HEALTHCHECK running -healthcheck (got: $hc)"
pm image inspect -f '{{.Config.Env}}' "$img" | grep -q 'TEDEE2MQTT_DATA_DIR=/data' || fail "TEDEE2MQTT_DATA_DIR=/data is not set"
pm image inspect -f '{{.Config.Volumes}}' "$img" | grep -q '/data' || fail "VOLUME /data is missing"
pm run --rm "${ulimits[@]}" --network=none "$img" -version | grep -q image-test || fail "-version does not show the build's VERSION"

# --- 2-4. run it with a mounted config and a data volume ------------------------------------------
broker_port=$(free_port)
http_port=$(free_port)
[ "$http_port" != "$broker_port" ] || http_port=$(free_port)
cat >"$work/mosquitto.conf" <<EOF
listener $broker_port 127.0.0.1
allow_anonymous true
persistence false
user root
log_dest stderr
EOF
start_broker() {
  "$mosquitto_bin" -c "$work/mosquitto.conf" >>"$work/mosquitto.log" 2>&1 &
  mosq_pid=$!
  wait_for "mosquitto on 127.0.0.1:$broker_port" 10 mosquitto_sub -h 127.0.0.1 -p "$broker_port" -t probe -W 1 -E
}
say "Mosquitto on 127.0.0.1:$broker_port; tedee2mqtt on 127.0.0.1:$http_port (host network, loopback only)"
start_broker

# The config sets the listen address and the broker: health on that port proves the file is read.
cat >"$work/config.yaml" <<EOF
log:
  level: info
http:
  listen: "127.0.0.1:$http_port"
mqtt:
  url: "tcp://127.0.0.1:$broker_port"
  client_id: tedee2mqtt-image-test
EOF
chmod 0644 "$work/config.yaml"
pm volume create tedee2mqtt-image-test-data >/dev/null
run_app() {
  pm run -d --name "$app" "${ulimits[@]}" --network=host \
    -v "$work/config.yaml:/config/config.yaml:ro" -v tedee2mqtt-image-test-data:/data \
    "$img" >/dev/null
}
run_app
healthz() { curl -fsS "http://127.0.0.1:$http_port/healthz"; }
readyz() { curl -fsS "http://127.0.0.1:$http_port/readyz"; }
wait_for "/healthz on the configured port" 20 healthz
wait_for "/readyz (MQTT connected)" 20 readyz

say "2. user and capabilities"
pid=$(pm inspect -f '{{.State.Pid}}' "$app")
procstatus=/proc/$pid/status
uids=$(awk '/^Uid:/ {print $2, $3, $4, $5}' "$procstatus")
gids=$(awk '/^Gid:/ {print $2, $3, $4, $5}' "$procstatus")
[ "$uids" = "65532 65532 65532 65532" ] || fail "process uids are $uids, want 65532"
[ "$gids" = "65532 65532 65532 65532" ] || fail "process gids are $gids, want 65532"
for c in CapInh CapPrm CapEff CapAmb; do
  v=$(awk -v c="$c:" '$1 == c {print $2}' "$procstatus")
  [ "$v" = 0000000000000000 ] || fail "$c is $v, want no capabilities"
done
echo "    uid/gid 65532, CapInh/CapPrm/CapEff/CapAmb empty"
# The image's working directory is /config, so the mounted file is ./config.yaml to the service;
# the listen address it logs is the one only that file sets.
[ "$(pm inspect -f '{{.Config.WorkingDir}}' "$app")" = /config ] || fail "working directory is not /config"
pm logs "$app" 2>&1 | grep '"msg":"starting"' | grep -q '"config":"config.yaml"' ||
  fail "the log does not say config.yaml was read"
pm logs "$app" 2>&1 | grep '"msg":"listening for webhooks"' | grep -q "\"addr\":\"127.0.0.1:$http_port\"" ||
  fail "the service does not listen on the configured 127.0.0.1:$http_port"
echo "    /config/config.yaml read (listening on its 127.0.0.1:$http_port, its broker)"

say "3. health: /healthz, -healthcheck, podman healthcheck run, /readyz"
pm exec "$app" /tedee2mqtt -healthcheck || fail "tedee2mqtt -healthcheck in the container failed"
pm healthcheck run "$app" || fail "podman healthcheck run: unhealthy"
h=$(pm inspect -f '{{.State.Health.Status}}' "$app")
[ "$h" = healthy ] || fail "health status is $h"
echo "    healthy"

say "4. a webhook reaches Mosquitto on the host's loopback"
serial=IMG-1
body='{"event":"lock-status-changed","timestamp":"2026-11-01T10:00:00.000Z","data":{"deviceType":2,"deviceId":1,"serialNumber":"'$serial'","state":6,"jammed":0,"doorState":3}}'
code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST --data-binary "$body" "http://127.0.0.1:$http_port/webhook")
[ "$code" = 204 ] || fail "webhook answered $code, want 204"
got=$(mosquitto_sub -h 127.0.0.1 -p "$broker_port" -t "tedee/$serial/state" -C 1 -W 10 || true)
[ "$got" = locked ] || fail "tedee/$serial/state is '$got', want locked"
echo "    tedee/$serial/state = locked"

say "5. state survives a restart through the data volume"
vol=$(pm volume inspect -f '{{.Mountpoint}}' tedee2mqtt-image-test-data)
wait_for "state.json on the volume" 10 grep -q "$serial" "$vol/state.json"
owner=$(stat -c %u:%g "$vol/state.json")
[ "$owner" = 65532:65532 ] || fail "state.json is owned by $owner, want 65532:65532"
pm stop -t 10 "$app" >/dev/null
# The broker restarts empty (no persistence): whatever tedee2mqtt publishes next, it knew from
# the volume.
kill "$mosq_pid"; wait "$mosq_pid" 2>/dev/null || true; mosq_pid=
start_broker
[ -z "$(mosquitto_sub -h 127.0.0.1 -p "$broker_port" -t "tedee/$serial/state" -C 1 -W 2 2>/dev/null || true)" ] ||
  fail "the restarted broker still holds retained state"
pm start "$app" >/dev/null
wait_for "/readyz after the restart" 20 readyz
got=$(mosquitto_sub -h 127.0.0.1 -p "$broker_port" -t "tedee/$serial/state" -C 1 -W 10 || true)
[ "$got" = locked ] || fail "after the restart tedee/$serial/state is '$got', want locked (from state.json)"
pm logs "$app" 2>&1 | grep 'restored state' | grep -q '"snapshots": *1' ||
  fail "the log does not say one snapshot was restored"
echo "    state.json (owner 65532) restored after the restart: tedee/$serial/state = locked"

say "6. podman stop: exit 0 within 5 s, offline on tedee/status"
mosquitto_sub -h 127.0.0.1 -p "$broker_port" -t tedee/status -v -W 20 >"$work/status.log" 2>&1 &
sub=$!
wait_for "online on tedee/status" 10 grep -q 'tedee/status online' "$work/status.log"
t0=$(date +%s%N)
pm stop -t 10 "$app" >/dev/null || fail "podman stop failed"
ms=$((($(date +%s%N) - t0) / 1000000))
kill "$sub" 2>/dev/null; wait "$sub" 2>/dev/null || true
[ "$ms" -lt 5000 ] || fail "podman stop took $ms ms"
ec=$(pm inspect -f '{{.State.ExitCode}}' "$app")
[ "$ec" = 0 ] || fail "tedee2mqtt exited with $ec on SIGTERM"
[ "$(tail -1 "$work/status.log")" = "tedee/status offline" ] || fail "no offline on tedee/status: $(cat "$work/status.log")"
echo "    stopped in $ms ms, exit code 0, tedee/status offline"
pm rm "$app" >/dev/null
kill "$mosq_pid"; wait "$mosq_pid" 2>/dev/null || true; mosq_pid=

say "single image: all checks passed ($(($(date +%s) - started)) s so far)"

# --- 7. the compose stack --------------------------------------------------------------------
say "7. the compose stack: docker-compose.yml with podman-compose"
# eclipse-mosquitto:2's stand-in: Debian's mosquitto package with a shell (the compose file's
# entrypoint.sh needs one), laid out as the upstream image: /usr/sbin/mosquitto, mosquitto_passwd
# on the PATH, /mosquitto/{config,data,log} owned by user mosquitto (1883).
stage=$work/mosquitto-root
debian_userland "$stage" dash coreutils mosquitto
mkdir -p "$stage/etc" "$stage/tmp" "$stage/mosquitto/config" "$stage/mosquitto/data" "$stage/mosquitto/log"
chmod 1777 "$stage/tmp"
printf 'root:x:0:0:root:/root:/bin/sh\nmosquitto:x:1883:1883:mosquitto:/var/empty:/sbin/nologin\n' >"$stage/etc/passwd"
printf 'root:x:0:\nmosquitto:x:1883:\n' >"$stage/etc/group"
chown -R 1883:1883 "$stage/mosquitto"
tar -cf "$work/mosquitto.tar" --numeric-owner -C "$stage" .
pm import -q --change 'ENTRYPOINT ["/usr/sbin/mosquitto"]' \
  --change 'CMD ["-c", "/mosquitto/config/mosquitto.conf"]' --change 'EXPOSE 1883' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'VOLUME ["/mosquitto/data", "/mosquitto/log"]' \
  "$work/mosquitto.tar" "$mosquitto_standin" >/dev/null
rm -f "$work/mosquitto.tar"; rm -rf "$stage"
# The image built above is the compose file's tedee2mqtt:latest (up --no-build).
pm tag "$img" localhost/tedee2mqtt:latest

# The project directory: the compose file as it is in the tree, deploy/ the tree's own, config.yaml
# made from config.example.yaml as the README says, and mqtt_password as the compose file says.
proj=$work/compose
mkdir -p "$proj"
cp docker-compose.yml "$proj/"
ln -sfn "$repo/deploy" "$proj/deploy"
cp config.example.yaml "$proj/"
say "the README's lines that make config.yaml and mqtt_password (Docker Compose)"
(cd "$proj" && run_readme 'cp config.example.yaml config.yaml' && run_readme 'openssl rand -hex 24 > mqtt_password')
password=$(cat "$proj/mqtt_password")

# The stack runs in a network namespace of its own: its published ports (1883 and 8080, on every
# interface) and podman's bridge, firewall rules and DNS server for the compose network stay in
# there, and go with it. Every podman call from here on runs in it.
ns=tedee2mqtt-image-test-$$
ip netns add "$ns"
ip -n "$ns" link set lo up
inns() { nsenter --net="/run/netns/$ns" -- "$@"; }
pm_in=(nsenter --net="/run/netns/$ns" --)
pc() {
  (cd "$proj" && inns podman-compose -p tedee2mqtt-image-test --podman-args "${pm_args[*]}" \
    --podman-run-args "${ulimits[*]}" "$@")
}

# The README's docker run lines ("Running in Docker", "Upgrading"), as written, before the stack
# takes port 8080 in the namespace: the image as `tedee2mqtt`, config.yaml from the README's line.
say "7a. the README's docker run lines"
readme=$work/readme
mkdir -p "$readme"
cp config.example.yaml "$readme/"
(umask 022; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$readme/http_secret")
ns_healthz() { inns curl -fsS http://127.0.0.1:8080/healthz; }
ns_code() { inns curl -sS -o /dev/null -w '%{http_code}' -X POST --data-binary '{}' http://127.0.0.1:8080/webhook/home; }
(
  cd "$readme"
  run_readme 'cp config.example.yaml config.yaml'
  run_readme 'docker run -d --name tedee2mqtt --restart unless-stopped \'
  wait_for "/healthz on the README's published port 8080" 20 ns_healthz
  pm logs tedee2mqtt 2>&1 | grep '"msg":"starting"' | grep -q '"config":"config.yaml"' || fail "the README's docker run did not read ./config.yaml"
  pm tag "$img" localhost/tedee2mqtt:NEW # the upgrade's new image
  run_readme 'docker run --rm -v ./config.yaml:/config/config.yaml:ro tedee2mqtt' | grep -q 'configuration is valid' ||
    fail "the README's -check-config in the image did not say the configuration is valid"
  docker rm -f tedee2mqtt >/dev/null
  # Configured with the environment only: the bridge's route wants the secret from the file.
  run_readme 'docker run -d --name tedee2mqtt --restart unless-stopped -p 8080:8080 \'
  wait_for "/healthz of the environment-only docker run" 20 ns_healthz
  [ "$(ns_code)" = 401 ] || fail "/webhook/home without the secret answered $(ns_code), want 401 (TEDEE2MQTT_HTTP_SECRET_FILE)"
  docker rm -f tedee2mqtt >/dev/null
  pm volume rm tedee2mqtt-data >/dev/null
)
echo "    both ran: healthy on port 8080, ./config.yaml read, -check-config valid, the secret file used"

app_c=tedee2mqtt-image-test_tedee2mqtt_1
if ! pc up -d --no-build mosquitto tedee2mqtt >"$work/compose.log" 2>&1; then
  tail -40 "$work/compose.log"; fail "podman-compose up failed"
fi
ns_readyz() { inns curl -fsS http://127.0.0.1:8080/readyz; }
wait_for "the stack's tedee2mqtt /readyz (connected to mosquitto)" 30 ns_readyz
pm logs "$app_c" 2>&1 | grep '"connected to broker"' | grep -q '"broker":"tcp://mosquitto:1883"' ||
  fail "tedee2mqtt did not log its connection to tcp://mosquitto:1883"
echo "    tedee2mqtt ready, connected to tcp://mosquitto:1883 by its service name"
# Mosquitto asks for a password: anonymous clients are refused, the compose file's user gets in.
if inns mosquitto_sub -h 127.0.0.1 -p 1883 -t tedee/status -C 1 -W 5 >/dev/null 2>&1; then
  fail "the stack's Mosquitto lets anonymous clients in"
fi
got=$(inns mosquitto_sub -h 127.0.0.1 -p 1883 -u tedee2mqtt -P "$password" -t tedee/status -C 1 -W 10 || true)
[ "$got" = online ] || fail "tedee/status on the stack's broker is '$got', want online"
echo "    anonymous refused; user tedee2mqtt with ./mqtt_password sees tedee/status online"
serial=IMG-2
body='{"event":"lock-status-changed","timestamp":"2026-11-01T10:00:00.000Z","data":{"deviceType":2,"deviceId":2,"serialNumber":"'$serial'","state":2,"jammed":0,"doorState":2}}'
code=$(inns curl -sS -o /dev/null -w '%{http_code}' -X POST --data-binary "$body" http://127.0.0.1:8080/webhook)
[ "$code" = 204 ] || fail "webhook to the stack answered $code, want 204"
got=$(inns mosquitto_sub -h 127.0.0.1 -p 1883 -u tedee2mqtt -P "$password" -t "tedee/$serial/state" -C 1 -W 10 || true)
[ "$got" = unlocked ] || fail "tedee/$serial/state on the stack's broker is '$got', want unlocked"
echo "    a webhook on port 8080 reaches the stack's broker: tedee/$serial/state = unlocked"
pm healthcheck run "$app_c" || fail "podman healthcheck run on the stack's tedee2mqtt: unhealthy"
# read_only: the state still lands on the data volume (TEDEE2MQTT_DATA_DIR=/data wins over the
# example config's data_dir).
pm logs "$app_c" 2>&1 | grep '"restored state"' | grep -q '"from":"/data/state.json"' ||
  fail "the stack's tedee2mqtt does not keep its state in /data"
vol=$(pm volume inspect -f '{{.Mountpoint}}' tedee2mqtt-image-test_tedee2mqtt-data)
wait_for "state.json on the stack's data volume" 10 grep -q "$serial" "$vol/state.json"
echo "    healthy; state.json on the tedee2mqtt-data volume"
# What the compose file promises of both containers: a read-only root file system, no capabilities
# (not even in the bounding set: cap_drop ALL), no-new-privileges, and their own users.
for c in tedee2mqtt-image-test_mosquitto_1:1883 "$app_c:65532"; do
  name=${c%%:*} uid=${c##*:}
  [ "$(pm inspect -f '{{.HostConfig.ReadonlyRootfs}}' "$name")" = true ] || fail "$name: the root file system is writable"
  procstatus=/proc/$(pm inspect -f '{{.State.Pid}}' "$name")/status
  [ "$(awk '/^Uid:/ {print $2, $3, $4, $5}' "$procstatus")" = "$uid $uid $uid $uid" ] || fail "$name: not running as $uid"
  for f in CapPrm CapEff CapBnd CapAmb; do
    [ "$(awk -v f="$f:" '$1 == f {print $2}' "$procstatus")" = 0000000000000000 ] || fail "$name: $f is not empty"
  done
  [ "$(awk '$1 == "NoNewPrivs:" {print $2}' "$procstatus")" = 1 ] || fail "$name: no-new-privileges is not set"
done
echo "    both containers: read-only root, no capabilities (bounding set too), no-new-privileges, uids 1883 and 65532"
t0=$(date +%s)
pc down -t 10 >>"$work/compose.log" 2>&1 || fail "podman-compose down failed"
say "compose stack: all checks passed (down in $(($(date +%s) - t0)) s)"
say "all checks passed in $(($(date +%s) - started)) s"
