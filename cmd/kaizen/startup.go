package main

import (
	"context"
	"fmt"
	"time"
)

// startupMedian measures a packaged function's start-up under the Lambda
// Runtime Interface Emulator: process start to ready for the first event.
func startupMedian(ctx context.Context, rie, bootstrap string, runs int) (time.Duration, error) {
	return 0, fmt.Errorf("not measured yet")
}
