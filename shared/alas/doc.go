// Package alas watches the Amazon Linux Security Center (ALAS) feeds and
// starts a golden-image rebuild when an advisory that matters to an app
// appears, so that security fixes stop piling up unnoticed.
//
// # Pieces
//
//   - ParseItem and Parse turn the RSS feed into Advisory values. A
//     malformed item is skipped and reported (Feed.Skipped), never
//     half-recorded; a document that is not a feed at all (HTML error page,
//     truncated XML, empty channel, anything with a DTD) is an error.
//   - Fetcher does the conditional GET: ETag, Last-Modified and, for servers
//     that send neither, a SHA-256 of the body. An unchanged feed costs one
//     request and no writes.
//   - Check is the policy as a pure function, for dry runs in the CLI.
//   - Poller is the use case behind the alaspoll Lambda. It talks to the
//     world through three ports defined here (Store, Rebuilder, Notifier);
//     the DynamoDB, CodeBuild/CodePipeline and SNS adapters live elsewhere,
//     MemStore serves tests and the demo, and package alastest holds the
//     contract every Store must pass.
//
// # Recording once, rebuilding until done
//
// Advisories are recorded per app with a conditional write
// (Store.RecordAdvisory), so only the first poll to see an advisory treats
// it as new and notifies about it. Recording and rebuilding are separate
// steps, because a rebuild can fail to start after the record was written;
// if "new" were the only trigger, such an advisory would never be rebuilt.
// So rebuild-worthy advisories stay pending in the store until
// Store.MarkRebuilt, and every poll asks Store.PendingAdvisories, not only
// the polls that found something new:
//
//   - new advisories, or ones left from a failed start, go into the next
//     build as soon as no build is running;
//   - while a build runs, pending advisories wait for the first poll after
//     it ends (the running build was started without them);
//   - if Start fails, Poll returns the error and does not save the feed's
//     validators, so the next poll downloads and checks the feed again.
//
// A feed's validators are saved only after everything for that feed and
// the rebuild decision succeeded, so a broken poll leaves the next one a
// clean retry. Notifications are sent at most once per advisory: one
// message per poll that found something new or started a build.
//
// Run one poller per app at a time (for the Lambda: reserved concurrency
// 1). Two overlapping polls could both start a build for the same pending
// advisories; that is harmless for yum (an applied advisory is a no-op) but
// wastes a build.
package alas
