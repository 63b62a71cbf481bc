package config

import (
	"fmt"
	"os"
	"strings"
	"unicode"
)

// secretPair is a secret setting and its *_file variant.
type secretPair struct {
	valuePath, filePath string
	value, file         *string
}

// secretPairs lists the secret settings of cfg in document order.
func secretPairs(cfg *Config) []secretPair {
	pairs := []secretPair{
		{"http.secret", "http.secret_file", &cfg.HTTP.Secret, &cfg.HTTP.SecretFile},
		{"http.ui_password", "http.ui_password_file", &cfg.HTTP.UIPassword, &cfg.HTTP.UIPasswordFile},
		{"mqtt.password", "mqtt.password_file", &cfg.MQTT.Password, &cfg.MQTT.PasswordFile},
		{"homeassistant.lock_code", "homeassistant.lock_code_file", &cfg.HomeAssistant.LockCode, &cfg.HomeAssistant.LockCodeFile},
	}
	for i := range cfg.Bridges {
		b := &cfg.Bridges[i]
		p := fmt.Sprintf("bridges[%d]", i)
		pairs = append(pairs, secretPair{p + ".token", p + ".token_file", &b.Token, &b.TokenFile})
	}
	return append(pairs, secretPair{"cloud.path_secret", "cloud.path_secret_file", &cfg.Cloud.PathSecret, &cfg.Cloud.PathSecretFile},
		secretPair{"cloud.api_key", "cloud.api_key_file", &cfg.Cloud.APIKey, &cfg.Cloud.APIKeyFile})
}

// readSecretFiles fills each secret whose *_file setting is set from that
// file, with trailing white space (such as the final newline) removed. The
// *_file setting is kept as it was.
func readSecretFiles(cfg *Config, ps *problems) {
	for _, s := range secretPairs(cfg) {
		if *s.file == "" {
			continue
		}
		if *s.value != "" {
			ps.add(s.filePath, "cannot be set together with %s", s.valuePath)
			continue
		}
		data, err := os.ReadFile(*s.file)
		if err != nil {
			ps.add(s.filePath, "%v", err)
			continue
		}
		v := strings.TrimRightFunc(string(data), unicode.IsSpace)
		if v == "" {
			ps.add(s.filePath, "%s is empty", *s.file)
			continue
		}
		*s.value = v
	}
}
