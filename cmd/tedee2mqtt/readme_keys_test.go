package main

// The README's shell lines that tests run, by their key (see readmeShellLines): a changed line
// changes here too, so a test never goes on running a line the README no longer shows.
const (
	readmePostWebhook         = `curl -i -X POST --data-binary @pkg/tedee/testdata/bridge/lock-status-changed.json http://localhost:8080/webhook`
	readmeSubAll              = `mosquitto_sub -h 127.0.0.1 -v -t 'tedee/#'`
	readmeGetWebhook          = `curl -i "http://localhost:8080/webhook$(cat pkg/tedee/testdata/bridge/lock-status-changed.get)"`
	readmeNoParamsWebhook     = `curl -i "http://localhost:8080/webhook$(cat pkg/tedee/testdata/bridge/lock-status-changed.noparams)"`
	readmeRegisterCallback    = `curl -X POST "http://<bridge ip>/v1.0/callback" -H "api_token: <token>" -H "Content-Type: application/json" -d '{"url":"http://<tedee2mqtt host>:8080/webhook/home","method":"POST", "headers":[{"Authorization":"Bearer <the secret in http_secret>"}]}'`
	readmeFakeBridge          = `go run ./cmd/fakebridge -listen 127.0.0.1:8081 -token demo-token -token-mode plain`
	readmeServiceOnFakeBridge = `TEDEE2MQTT_BRIDGES_0_NAME=home TEDEE2MQTT_BRIDGES_0_HOST=127.0.0.1:8081 TEDEE2MQTT_BRIDGES_0_TOKEN=demo-token ` +
		`TEDEE2MQTT_BRIDGES_0_TOKEN_MODE=plain TEDEE2MQTT_BRIDGES_0_PUBLIC_URL=http://127.0.0.1:8080 go run ./cmd/tedee2mqtt`
	readmeOpenCommand      = `mosquitto_pub -h 127.0.0.1 -t tedee/20000001-000001/set -m open`
	readmeHealthCheck      = `mosquitto_rr -h 127.0.0.1 -t tedee/bridge/request/health_check -e tedee/bridge/response/health_check -m '{"transaction":"h1"}'`
	readmeAPIState         = `curl -s http://127.0.0.1:8080/api/state`
	readmeAPIEvents        = `curl -sN http://127.0.0.1:8080/api/events`
	readmeCloudSettingsSet = `mosquitto_pub -t tedee/19420103-000006/settings/set -m '{"auto_lock":true,"auto_lock_delay":30,"transaction":"s1"}'`
	readmeCheckConfig      = `tedee2mqtt -check-config -config bad.yaml`

	readmeCopyConfig     = `cp config.example.yaml config.yaml && chmod 644 config.yaml`
	readmeMQTTPassword   = `openssl rand -hex 24 > mqtt_password && chmod 644 mqtt_password`
	readmeDockerBuild    = `docker build -t tedee2mqtt --build-arg VERSION=1.2.3 --build-arg COMMIT=$(git rev-parse HEAD) .`
	readmeDockerRun      = `docker run -d --name tedee2mqtt --restart unless-stopped -v ./config.yaml:/config/config.yaml:ro -v tedee2mqtt-data:/data -p 8080:8080 tedee2mqtt`
	readmeDockerRunEnv   = `docker run -d --name tedee2mqtt --restart unless-stopped -p 8080:8080 -e TEDEE2MQTT_MQTT_URL=tcp://192.0.2.10:1883 -e TEDEE2MQTT_BRIDGES_0_NAME=home -e TEDEE2MQTT_HTTP_SECRET_FILE=/run/secrets/http_secret -v ./http_secret:/run/secrets/http_secret:ro tedee2mqtt`
	readmeBuildx         = `docker buildx build --platform linux/amd64,linux/arm64,linux/arm/v7 --build-arg VERSION=1.2.3 --build-arg COMMIT=$(git rev-parse HEAD) -t registry.example.com/tedee2mqtt:1.2.3 --push .`
	readmeAptGet         = `sudo apt-get install --no-install-recommends podman runc podman-compose golang-github-containernetworking-plugin-dnsname mosquitto mosquitto-clients curl iproute2 openssl`
	readmeImageTest      = `sudo deploy/test-image.sh`
	readmeComposeUp      = `docker compose up -d`
	readmeComposeHA      = `docker compose --profile homeassistant up -d`
	readmeComposeLogs    = `docker compose logs -f tedee2mqtt`
	readmeBuildBinary    = `CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=1.2.3 -X main.commit=$(git rev-parse HEAD)" -o tedee2mqtt ./cmd/tedee2mqtt`
	readmeInstallBinary  = `CGO_ENABLED=0 go install -trimpath -ldflags "-s -w -X main.version=1.2.3 -X main.commit=$(git rev-parse HEAD)" ./cmd/tedee2mqtt`
	readmeInstallLine0   = `sudo install -m 0755 tedee2mqtt /usr/local/bin/tedee2mqtt`
	readmeInstallLine1   = `sudo install -d -m 0700 /etc/tedee2mqtt`
	readmeInstallLine2   = `sudo install -m 0600 config.example.yaml /etc/tedee2mqtt/config.yaml`
	readmeInstallLine3   = `sudo install -m 0644 deploy/tedee2mqtt.service /etc/systemd/system/`
	readmeSystemctl      = `sudo systemctl daemon-reload && sudo systemctl enable --now tedee2mqtt`
	readmeJournal        = `journalctl -u tedee2mqtt -f`
	readmeDockerCheckNew = `docker run --rm -v ./config.yaml:/config/config.yaml:ro tedee2mqtt:NEW -check-config`
	readmeCheckNew       = `/path/to/new/tedee2mqtt -check-config -config /etc/tedee2mqtt/config.yaml`
)
