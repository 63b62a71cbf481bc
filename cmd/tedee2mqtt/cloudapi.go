package main

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/account"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/config"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/controller"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/keeper"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/metrics"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/mqtt"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/tedeecloud"
)

// cloudAPI is the Tedee Cloud API's part of the service, with cloud.api_key: nil without one.
type cloudAPI struct {
	account  *account.Account
	settings *account.Settings
}

// newCloudAPI returns the account read through the Cloud API, or nil without cloud.api_key. The
// key is handed to the client only; it is never logged.
func newCloudAPI(ctx context.Context, cfg config.Config, owner *keeper.Keeper, client *mqtt.Client,
	met *metrics.Metrics, log *zap.Logger) (*cloudAPI, error) {
	if cfg.Cloud.APIKey == "" {
		return nil, nil
	}
	api, err := tedeecloud.New(tedeecloud.Options{URL: cfg.Cloud.APIURL, Key: cfg.Cloud.APIKey,
		RequestsPerHour: cfg.Cloud.RequestsPerHour})
	if err != nil {
		return nil, fmt.Errorf("tedee cloud api: %w", err)
	}
	met.SetCloud(func() metrics.CloudStats {
		st := api.Stats()
		return metrics.CloudStats{Sent: st.Sent, Skipped: st.Skipped, RateLimited: st.RateLimited, LastHour: st.UsedLastHour}
	})
	acct := account.New(api, owner, account.Options{Log: log.Named("cloud"), CommandTimeout: cfg.Commands.Timeout})
	log.Info("using the Tedee Cloud API", zap.String("url", cfg.Cloud.APIURL),
		zap.Int("requests_per_hour", cfg.Cloud.RequestsPerHour))
	return &cloudAPI{account: acct, settings: acct.NewSettings(ctx, cfg.MQTT.BaseTopic, client.Publish)}, nil
}

// attach wires the account to the command router, the settings topic and the operator's info.
func (c *cloudAPI) attach(router *controller.Router, client *mqtt.Client) {
	if c == nil {
		return
	}
	router.SetCloud(c.account)
	client.Subscribe(c.settings.Filter(), c.settings.Handle)
}

// stateChanged is the keeper's OnStateChange: a lock reported a state, so its activity log will
// say who did it.
func (c *cloudAPI) stateChanged(serial string) {
	if c != nil {
		c.account.StateChanged(serial)
	}
}

func (c *cloudAPI) refreshDevices() {
	if c != nil {
		c.account.RefreshDevices()
	}
}

func (c *cloudAPI) health() any {
	if c == nil {
		return nil
	}
	return c.account.Health()
}

func (c *cloudAPI) run(ctx context.Context) error {
	if c == nil {
		return nil
	}
	return c.account.Run(ctx)
}
