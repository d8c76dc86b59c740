// Command stage puts a new golden AMI on the idle color for preview. It takes
// EC2 AMI State Change (available), Image Builder Image State Change
// (AVAILABLE) and CodeBuild Build State Change (SUCCEEDED, AMI_ID exported).
package main

import (
	"github.com/kaizen-sre/kaizen/shared/route"
	"github.com/kaizen-sre/kaizen/shared/stepmain"
)

func main() { stepmain.Start(route.Stage) }
