package cmd

import (
	"fmt"
	"time"
)

func parsePositiveDuration(flag, v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%s %q: %w", flag, v, err)
	}
	if d <= 0 {
		return 0, fmt.Errorf("%s %q: must be positive", flag, v)
	}
	return d, nil
}
