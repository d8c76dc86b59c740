package lab

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/kaizen-sre/kaizen/shared/config"
)

// Scaled is the configuration's first app n times over, each with its
// own names, resources and tag (its name, with a number, wherever the
// first app's name appears; its own launch templates), and no staging
// app: the scale benchmarks and tests run on it.
func Scaled(base *config.File, n int) (*config.File, error) {
	raw, err := json.Marshal(base)
	if err != nil {
		return nil, err
	}
	var file map[string]any
	if err := json.Unmarshal(raw, &file); err != nil {
		return nil, err
	}
	apps, _ := file["apps"].([]any)
	if len(apps) == 0 {
		return nil, fmt.Errorf("the configuration has no app to scale")
	}
	one, err := json.Marshal(apps[0])
	if err != nil {
		return nil, err
	}
	name := base.Apps[0].Name
	var scaled []any
	for i := range n {
		s := strings.ReplaceAll(string(one), name, fmt.Sprintf("%s%04d", name, i))
		for j, c := range config.Colors {
			s = strings.ReplaceAll(s, base.Apps[0].Color(c).LaunchTemplateID, fmt.Sprintf("lt-%016x", i*2+j+1))
		}
		var app any
		if err := json.Unmarshal([]byte(s), &app); err != nil {
			return nil, err
		}
		if m, ok := app.(map[string]any); ok {
			delete(m, "stagingApp")
		}
		scaled = append(scaled, app)
	}
	file["apps"] = scaled
	out, err := json.Marshal(file)
	if err != nil {
		return nil, err
	}
	return config.Parse(out)
}
