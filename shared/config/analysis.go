package config

// Analysis configures metric analysis of a release: the new color's
// metrics compared with the old color's, per target group, on the preview,
// at each weighted step and through the bake.
type Analysis struct {
	// Provider is "cloudwatch" (the default) or "datadog".
	Provider string `json:"provider,omitempty"`
}
