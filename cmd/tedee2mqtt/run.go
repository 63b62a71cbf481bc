package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/tedee2mqtt/tedee2mqtt/pkg/config"
)

// defaultConfigPath is used when -config is not given and the file exists.
const defaultConfigPath = "config.yaml"

func run(ctx context.Context, args []string, stdout, stderr io.Writer, environ []string) error {
	flags := flag.NewFlagSet("tedee2mqtt", flag.ContinueOnError)
	flags.SetOutput(stderr)
	configPath := flags.String("config", "", "configuration file (default ./config.yaml if it exists, else built-in defaults)")
	checkConfig := flags.Bool("check-config", false, "validate the configuration, print every problem and exit")
	showVersion := flags.Bool("version", false, "print version information and exit")
	healthcheck := flags.Bool("healthcheck", false, "GET /healthz on the configured listen address; exit 0 if healthy")
	demoMode := flags.Bool("demo", false, "try everything without hardware: a fake bridge with two locks, a fake Tedee Cloud API, the embedded broker, all on loopback")
	flags.Usage = func() { usage(flags) }
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", flags.Arg(0))
	}
	if *showVersion {
		fmt.Fprintln(stdout, versionString())
		return nil
	}

	path := *configPath
	if path == "" {
		if _, err := os.Stat(defaultConfigPath); err == nil {
			path = defaultConfigPath
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("check for %s: %w", defaultConfigPath, err)
		}
	}
	cfg, err := config.Load(path, environ)
	if *checkConfig {
		return reportConfig(stdout, stderr, path, err)
	}
	if err != nil {
		problems := config.Problems(err)
		for _, p := range problems {
			fmt.Fprintln(stderr, p)
		}
		return fmt.Errorf("invalid configuration (%s, listed above)", countProblems(len(problems)))
	}
	if *healthcheck {
		return checkHealth(ctx, cfg.HTTP.Listen)
	}

	if *demoMode {
		var stop func()
		if cfg, stop, err = demo(cfg, stdout); err != nil {
			return err
		}
		defer stop()
	}

	log, err := newLogger(cfg.Log, stderr)
	if err != nil {
		return err
	}
	defer log.Sync() //nolint:errcheck // nothing useful to do if stderr is gone
	log.Info("starting", zap.String("version", version), zap.String("config", cmp.Or(path, "built-in defaults")))
	return serve(ctx, cfg, log)
}

// usage is -help: the flags, how the environment configures, and where the documentation is.
func usage(flags *flag.FlagSet) {
	out := flags.Output()
	fmt.Fprintf(out, "tedee2mqtt: Tedee smart locks on MQTT, with Home Assistant discovery.\n\nUsage: tedee2mqtt [flags]\n\n")
	flags.PrintDefaults()
	fmt.Fprint(out, `
Configuration: ./config.yaml if it exists (or -config PATH), else built-in defaults; every key
documented in config.example.yaml. Every key can also be set in the environment as TEDEE2MQTT_
and its YAML path in upper case with _ between the parts:
  TEDEE2MQTT_MQTT_URL=tcp://192.0.2.10:1883   TEDEE2MQTT_HTTP_LISTEN=:8081
  TEDEE2MQTT_BRIDGES_0_HOST=192.0.2.50        TEDEE2MQTT_LOG_LEVEL=debug
Secrets can come from files: TEDEE2MQTT_HTTP_SECRET_FILE, TEDEE2MQTT_MQTT_PASSWORD_FILE, ...

Documentation: README.md (quick start, troubleshooting) and docs/ in the source,
https://github.com/tedee2mqtt/tedee2mqtt
`)
}

func countProblems(n int) string {
	if n == 1 {
		return "1 problem"
	}
	return fmt.Sprintf("%d problems", n)
}

func reportConfig(stdout, stderr io.Writer, path string, err error) error {
	name := path
	if name == "" {
		name = "built-in defaults"
	}
	if err != nil {
		problems := config.Problems(err)
		for _, p := range problems {
			fmt.Fprintln(stderr, p)
		}
		return fmt.Errorf("%s: %s", name, countProblems(len(problems)))
	}
	fmt.Fprintf(stdout, "%s: configuration is valid\n", name)
	return nil
}

// newLogger logs to out; format auto is console when out is a terminal (a person is reading),
// JSON otherwise (a log collector is).
func newLogger(c config.Log, out io.Writer) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(c.Level)
	if err != nil {
		return nil, fmt.Errorf("log level: %w", err)
	}
	encCfg := zap.NewProductionEncoderConfig()
	encCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	var enc zapcore.Encoder
	if c.Format == "console" || (c.Format == "auto" && isTerminal(out)) {
		encCfg.EncodeLevel = zapcore.CapitalLevelEncoder
		enc = zapcore.NewConsoleEncoder(encCfg)
	} else {
		enc = zapcore.NewJSONEncoder(encCfg)
	}
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(out), level)), nil
}

// isTerminal reports whether w is a character device, as a terminal is.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}
