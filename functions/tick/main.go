// Command tick runs every minute: it finishes what waits on time or on AWS
// (preview ready, cutover once healthy, bake finished, queued AMIs) and
// sweeps for AMIs no event announced.
package main

import (
	"github.com/kaizen-sre/kaizen/shared/lambdamain"
	"github.com/kaizen-sre/kaizen/shared/route"
)

func main() { lambdamain.Start(route.Tick) }
