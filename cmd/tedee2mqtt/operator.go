package main

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/config"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/controller"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/keeper"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/mqtt"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/operator"
)

// configSummary is what <base>/bridge/info says of the configuration: enough to see what runs,
// never a secret (no tokens, passwords, secrets, or the broker URL's user information).
type configSummary struct {
	BaseTopic     string          `json:"base_topic"`
	EmbeddedMQTT  bool            `json:"embedded_broker"`
	HomeAssistant bool            `json:"homeassistant"`
	Cloud         bool            `json:"cloud_webhooks"`
	CloudAPI      bool            `json:"cloud_api"`
	SecretSet     bool            `json:"http_secret_set"`
	Bridges       []bridgeSummary `json:"bridges"`
}

type bridgeSummary struct {
	Name      string `json:"name"`
	BridgeAPI bool   `json:"bridge_api"`
	Callback  bool   `json:"callback_registration"`
	Method    string `json:"callback_method"`
}

func summarize(cfg config.Config) configSummary {
	s := configSummary{BaseTopic: cfg.MQTT.BaseTopic, EmbeddedMQTT: cfg.MQTT.URL == "",
		HomeAssistant: cfg.HomeAssistant.Enabled, Cloud: cfg.Cloud.Enabled, CloudAPI: cfg.Cloud.APIKey != "", SecretSet: cfg.HTTP.Secret != "",
		Bridges: []bridgeSummary{}}
	for _, b := range cfg.Bridges {
		s.Bridges = append(s.Bridges, bridgeSummary{Name: b.Name, BridgeAPI: b.Host != "", Callback: b.PublicURL != "",
			Method: b.CallbackMethod})
	}
	return s
}

// newOperator returns the operator API (contract §7) over the bridges' controllers and the owner
// of the state.
func newOperator(ctx context.Context, cfg config.Config, controllers []*controller.Driver, owner *keeper.Keeper,
	client *mqtt.Client, cloud *cloudAPI, log *zap.Logger) *operator.Operator {
	bridges := make([]operator.Bridge, len(controllers))
	for i, c := range controllers {
		bridges[i] = c
	}
	_, rev := buildInfo()
	return operator.New(ctx, operator.Options{Base: cfg.MQTT.BaseTopic, Version: version, Commit: rev, Started: time.Now(),
		Config: summarize(cfg), Bridges: bridges, Owner: owner, Publish: client.Publish, Connected: client.Connected,
		Cloud: cloud.health},
		log.Named("operator"))
}
