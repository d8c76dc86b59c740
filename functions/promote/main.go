// Command promote reacts to the pipeline's manual approval: it binds the
// approval to the staged release when the action starts, promotes it on
// approve (capacity first, the public once enough targets are healthy) and
// abandons it on reject.
package main

import (
	"github.com/kaizen-sre/kaizen/shared/route"
	"github.com/kaizen-sre/kaizen/shared/stepmain"
)

func main() { stepmain.Start(route.Promote) }
