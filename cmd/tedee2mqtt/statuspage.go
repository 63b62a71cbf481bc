package main

import (
	"strings"

	"go.uber.org/zap"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/config"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/controller"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/keeper"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/statuspage"
)

// newStatusPage returns the status page (contract §9) over the owner of the state, the bridges'
// controllers and the command router; its routes go on the webhook server (webhook.Options.Extra).
// callbackSecrets are the bridges' own callback secrets (bridgeSecrets).
func newStatusPage(cfg config.Config, callbackSecrets map[string]string, owner *keeper.Keeper,
	controllers []*controller.Driver, router *controller.Router, log *zap.Logger) *statuspage.Server {
	names := make([]string, len(cfg.Bridges))
	for i, b := range cfg.Bridges {
		names[i] = b.Name
	}
	// An error's text comes from far away (the bridge's answers): whatever it says, a configured
	// secret never reaches the page.
	var secrets []string
	for _, s := range []string{cfg.HTTP.Secret, cfg.HTTP.UIPassword, cfg.MQTT.Password, cfg.Cloud.PathSecret} {
		if s != "" {
			secrets = append(secrets, s)
		}
	}
	for _, b := range cfg.Bridges {
		if b.Token != "" {
			secrets = append(secrets, b.Token)
		}
	}
	for _, s := range callbackSecrets {
		if s != "" {
			secrets = append(secrets, s)
		}
	}
	health := func() []statuspage.BridgeHealth {
		out := make([]statuspage.BridgeHealth, len(controllers))
		for i, c := range controllers {
			h := c.Health()
			for _, s := range secrets {
				h.LastError = strings.ReplaceAll(h.LastError, s, "[redacted]")
			}
			out[i] = statuspage.BridgeHealth{Bridge: h.Bridge, API: h.API, LastSync: h.LastSync, LastError: h.LastError,
				Callback: h.Callback}
		}
		return out
	}
	log.Info("status page", zap.String("listen", cfg.HTTP.Listen), zap.Bool("controls", cfg.HTTP.UIPassword != ""))
	// The buttons follow Home Assistant's rule: open only where the configuration allows it and the
	// lock can pull the latch (a Lock GO cannot; a Lock PRO once its pull spring is known enabled).
	policy := commandPolicy(cfg)
	allowed := func(serial, cmd string) bool {
		return policy.Allows(serial, cmd) && (cmd != controller.CommandOpen || owner.CanOpen(serial))
	}
	return statuspage.New(statuspage.Options{State: owner, Health: health, Bridges: names, Commands: router,
		Allowed: allowed, Password: cfg.HTTP.UIPassword, Version: version}, log.Named("statuspage"))
}
