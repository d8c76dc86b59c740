// Package stacks holds kaizen's CDK stacks: the kaizen stack (functions,
// rules, table, topic, queues, alarms) and the optional reference fleet and
// pipeline stacks. Nothing here reads the environment: everything comes in
// through props, so tests can build the same stacks main builds.
package stacks

import (
	"fmt"
	"os"

	"github.com/kaizen-sre/kaizen/shared/config"
)

// Config is the validated configuration file together with its exact bytes:
// the functions get the same bytes the CDK app validated.
type Config struct {
	*config.File
	Raw []byte
}

// LoadConfig reads and validates the configuration file once. Errors name the
// field (for example `apps[0].blue.asg: required`).
func LoadConfig(path string) (*Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	f, err := config.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return &Config{File: f, Raw: raw}, nil
}
