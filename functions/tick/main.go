// Command tick runs every minute: it finishes what waits on time or on AWS
// (preview ready, cutover once healthy, bake finished, queued AMIs) and
// sweeps for AMIs no event announced.
package main

import (
	"github.com/kaizen-sre/kaizen/shared/route"
	"github.com/kaizen-sre/kaizen/shared/stepmain"
)

func main() { stepmain.Start(route.Tick) }
