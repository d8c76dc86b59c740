// Command guard reacts to CloudWatch alarm state changes: a guard alarm
// during a shift or bake sends the public back to the previous color in one
// listener call; a capacity alarm steps the live color up.
package main

import (
	"github.com/kaizen-sre/kaizen/shared/route"
	"github.com/kaizen-sre/kaizen/shared/stepmain"
)

func main() { stepmain.Start(route.Guard) }
