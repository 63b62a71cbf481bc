package main

import (
	"github.com/tedee2mqtt/tedee2mqtt/pkg/config"
	"github.com/tedee2mqtt/tedee2mqtt/pkg/secretkey"
)

// bridgeSecrets returns, by bridge name, the bearer secret of every callback tedee2mqtt registers
// itself (host and public_url): http.secret when set, else one derived for that bridge from
// data_dir/secret.key, so that such a route is never open and its secret survives a restart.
// Bridges whose callback is registered by hand are not in it: they use http.secret, if any.
func bridgeSecrets(cfg config.Config) (map[string]string, error) {
	out := map[string]string{}
	var key *secretkey.Key
	for _, b := range cfg.Bridges {
		if b.Host == "" || b.PublicURL == "" {
			continue
		}
		if cfg.HTTP.Secret != "" {
			out[b.Name] = cfg.HTTP.Secret
			continue
		}
		if key == nil {
			k, err := secretkey.Load(cfg.DataDir)
			if err != nil {
				return nil, err
			}
			key = &k
		}
		out[b.Name] = key.BridgeSecret(b.Name)
	}
	return out, nil
}
