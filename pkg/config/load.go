package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Load builds the configuration: defaults, then the YAML file at path
// (skipped when path is ""), then environment overrides from environ
// (os.Environ() format "K=V"), then *_file secrets, then validation.
//
// A path that cannot be read gives an error "open config: …" that wraps the
// OS error (so errors.Is(err, fs.ErrNotExist) tells a missing file). Any other
// problem gives an errors.Join of one error per problem, each formatted
// "<yaml path>: <message>": decode problems in document order, then
// environment problems, then *_file problems, then validation problems. A file
// that is not valid YAML gives the single problem "<path>: <yaml error>".
// On error the returned Config is the zero value.
func Load(path string, environ []string) (Config, error) {
	cfg := Default()
	var ps problems
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("open config: %w", err)
		}
		if !decodeYAML(path, data, &cfg, &ps) {
			return Config{}, ps.err()
		}
	}
	applyEnv(&cfg, environ, &ps)
	readSecretFiles(&cfg, &ps)
	ps = append(ps, cfg.validate()...)
	if err := ps.err(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// decodeYAML applies the YAML document in data onto cfg. It returns false
// when the file could not be parsed at all (then ps holds that one problem).
func decodeYAML(file string, data []byte, cfg *Config, ps *problems) bool {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) { // empty file or only comments
			return true
		}
		ps.add(file, "%s", readableYAMLError(err, data))
		return false
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			ps.add(file, "%v", err)
		} else {
			ps.add(file, "multiple YAML documents are not supported")
		}
		return false
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return true
		}
		root = root.Content[0]
	}
	d := &decoder{file: file, ps: ps}
	d.value(root, reflect.ValueOf(cfg).Elem(), "")
	return true
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	bridgeType   = reflect.TypeFor[Bridge]()
)

// decoder walks a yaml.Node tree into a Go value, collecting problems with
// their YAML paths instead of stopping at the first one.
type decoder struct {
	file string // names the document root in problems
	ps   *problems
}

// at returns path, or the file name for the document root.
func (d *decoder) at(path string) string {
	if path == "" {
		return d.file
	}
	return path
}

func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	n = resolveAlias(n)
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // null keeps the current (default) value
	}
	t := v.Type()
	switch {
	case t == durationType:
		d.scalar(n, v, path)
	case t.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			d.ps.add(d.at(path), "expected a mapping")
			return
		}
		fields := yamlFields(t)
		for _, e := range d.entries(n, path) {
			p := joinKey(path, e.key)
			i, ok := fields[e.key]
			if !ok {
				if guess := closest(e.key, fields); guess != "" {
					d.ps.add(p, "unknown key (did you mean %q?)", guess)
				} else {
					d.ps.add(p, "unknown key")
				}
				continue
			}
			d.value(e.val, v.Field(i), p)
		}
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.ps.add(d.at(path), "expected a list")
			return
		}
		s := reflect.MakeSlice(t, 0, len(n.Content))
		for i, el := range n.Content {
			ev := newElem(t.Elem())
			d.value(el, ev, fmt.Sprintf("%s[%d]", path, i))
			s = reflect.Append(s, ev)
		}
		v.Set(s)
	case t.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.ps.add(d.at(path), "expected a mapping")
			return
		}
		m := reflect.MakeMap(t)
		for _, e := range d.entries(n, path) {
			ev := newElem(t.Elem())
			d.value(e.val, ev, joinMapKey(path, e.key))
			m.SetMapIndex(reflect.ValueOf(e.key).Convert(t.Key()), ev)
		}
		v.Set(m)
	default:
		d.scalar(n, v, path)
	}
}

func (d *decoder) scalar(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.ps.add(d.at(path), "expected %s", typeName(v.Type()))
		return
	}
	if msg := setScalar(v, n.Value, n.ShortTag()); msg != "" {
		d.ps.add(d.at(path), "%s", msg)
	}
}

// newElem returns a settable zero value of t, or the bridge defaults for a Bridge.
func newElem(t reflect.Type) reflect.Value {
	v := reflect.New(t).Elem()
	if t == bridgeType {
		v.Set(reflect.ValueOf(defaultBridge()))
	}
	return v
}

type entry struct {
	key string
	val *yaml.Node
}

// entries returns the key/value pairs of the mapping n. Merge keys ("<<") are
// expanded: merged pairs come first and explicit keys override them; among
// several merged mappings the first one wins, as in YAML 1.1.
func (d *decoder) entries(n *yaml.Node, path string) []entry {
	explicit, merges := d.split(n, path, true)
	if len(merges) == 0 {
		return explicit
	}
	have := make(map[string]bool, len(explicit))
	for _, e := range explicit {
		have[e.key] = true
	}
	visited := map[*yaml.Node]bool{n: true}
	var merged []entry
	var add func(src *yaml.Node, inList bool)
	add = func(src *yaml.Node, inList bool) {
		src = resolveAlias(src)
		switch {
		case src.Kind == yaml.MappingNode:
			if visited[src] {
				return
			}
			visited[src] = true
			ex, ms := d.split(src, path, false)
			for _, e := range ex {
				if !have[e.key] {
					have[e.key] = true
					merged = append(merged, e)
				}
			}
			for _, m := range ms {
				add(m, false)
			}
		case src.Kind == yaml.SequenceNode && !inList:
			for _, el := range src.Content {
				add(el, true)
			}
		default:
			p := "<<"
			if path != "" {
				p = path + ".<<"
			}
			d.ps.add(p, "expected a mapping or a list of mappings")
		}
	}
	for _, m := range merges {
		add(m, false)
	}
	return append(merged, explicit...)
}

// split returns the explicit pairs and the merge values of the mapping n.
// With report, duplicate and non-string keys are reported as problems.
func (d *decoder) split(n *yaml.Node, path string, report bool) (explicit []entry, merges []*yaml.Node) {
	seen := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolveAlias(n.Content[i]), n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			if report {
				d.ps.add(d.at(path), "mapping keys must be strings")
			}
			continue
		}
		if seen[k.Value] {
			if report {
				d.ps.add(joinKey(path, k.Value), "duplicate key")
			}
			continue
		}
		seen[k.Value] = true
		explicit = append(explicit, entry{key: k.Value, val: v})
	}
	return explicit, merges
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// setScalar parses raw according to v's type and stores it. tag is the YAML
// tag of the scalar, or "" for a value from the environment. It returns a
// problem message, or "" on success.
func setScalar(v reflect.Value, raw, tag string) string {
	t := v.Type()
	switch {
	case t == durationType:
		dur, err := time.ParseDuration(raw)
		if err != nil {
			return fmt.Sprintf("cannot use %q as a duration (e.g. 60s)", raw)
		}
		v.SetInt(int64(dur))
	case t.Kind() == reflect.String:
		v.SetString(raw)
	case t.Kind() == reflect.Bool:
		b, ok := parseBool(raw)
		if !ok {
			return fmt.Sprintf("cannot use %q as a boolean", raw)
		}
		v.SetBool(b)
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		var i int64
		var err error
		switch tag {
		case "!!int": // YAML integer syntax: 0x1F, 0o17, 1_000, ...
			i, err = strconv.ParseInt(strings.ReplaceAll(raw, "_", ""), 0, 64)
		case "", "!!str": // environment, or a quoted number
			i, err = strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
		default:
			err = errors.New("not an integer")
		}
		if err != nil || v.OverflowInt(i) {
			return fmt.Sprintf("cannot use %q as an integer", raw)
		}
		v.SetInt(i)
	default:
		return fmt.Sprintf("unsupported setting type %s", t)
	}
	return ""
}

// parseBool accepts the YAML 1.1/1.2 and usual environment spellings.
func parseBool(s string) (value, ok bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "yes", "on", "1":
		return true, true
	case "false", "no", "off", "0":
		return false, true
	}
	return false, false
}

func typeName(t reflect.Type) string {
	switch {
	case t == durationType:
		return "a duration (e.g. 60s)"
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Bool:
		return "a boolean"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		return "an integer"
	case t.Kind() == reflect.Slice:
		return "a list"
	default:
		return "a mapping"
	}
}

// yamlFields maps the yaml key of each field of struct type t to its index.
func yamlFields(t reflect.Type) map[string]int {
	m := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		if name := yamlName(t.Field(i)); name != "" {
			m[name] = i
		}
	}
	return m
}

func yamlName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" {
		return ""
	}
	if name == "" {
		name = strings.ToLower(f.Name)
	}
	return name
}

var plainKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// joinKey appends a mapping key to a YAML path: "mqtt" + "qos" = "mqtt.qos".
// Keys that are not plain words are quoted.
func joinKey(path, key string) string {
	if !plainKey.MatchString(key) {
		key = strconv.Quote(key)
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// joinMapKey appends a key of a map with user-chosen keys (cloud.devices) to a
// YAML path; anything but a decimal number is quoted: cloud.devices.12345,
// cloud.devices."abc".
func joinMapKey(path, key string) string {
	if !isDigits(key) {
		key = strconv.Quote(key)
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// readableYAMLError says what a YAML parse error means where the parser's words do not: a tab in
// the indentation is the usual cause of "found character that cannot start any token".
func readableYAMLError(err error, data []byte) string {
	msg := err.Error()
	if strings.Contains(msg, "found character that cannot start any token") {
		for i, line := range strings.Split(string(data), "\n") {
			trimmed := strings.TrimLeft(line, " ")
			if strings.HasPrefix(trimmed, "\t") {
				return fmt.Sprintf("line %d is indented with a tab; YAML indents with spaces only (%s)", i+1, msg)
			}
		}
	}
	return msg
}

// closest returns the known key nearest to key, if one is near enough to be what was meant: at
// most two edits apart, or the same but for case, dashes and underscores.
func closest(key string, known map[string]int) string {
	best, bestDist := "", 3
	norm := func(s string) string { return strings.NewReplacer("-", "", "_", "").Replace(strings.ToLower(s)) }
	for k := range known {
		if norm(k) == norm(key) {
			return k
		}
		if d := editDistance(key, k); d < bestDist || (d == bestDist && k < best) {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
