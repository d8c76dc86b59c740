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
//     world through three ports: Store, defined here, and rebuild.Rebuilder
//     and awsapi.Notifier, defined where builds start and notices are sent.
//     The DynamoDB, CodeBuild/CodePipeline and SNS adapters live in those
//     packages and in store, fake.ALASStore serves tests, and package
//     alastest holds the contract every Store must pass.
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
// message per poll that found something new at or above the app's minimum
// severity, started a build, or was the first poll of a feed.
//
// # The digest
//
// Advisories below the app's minimum severity start no build and no
// message of their own. They are recorded as ActionDigest, and a poll
// sends one digest message listing all that were recorded since the last
// digest when the last was sent config.ALAS.DigestHours (default 24) or
// more ago, or never. So a digest goes out at most once per period, and
// only when it has something to say; the first advisory below the minimum
// after a quiet period goes out with the poll that records it. Sending
// comes before marking (Store.MarkDigested), so a failure repeats a
// digest rather than losing one.
//
// # The first poll of a feed
//
// A feed's history goes back to 2011. On the first poll of a feed for an
// app (no validators saved for it), advisories published more than
// Poller.FirstPollWindow (default 30 days) earlier are recorded as
// ActionKnown: taken to be in the image's base AMI, never rebuilt, listed
// or digested; the message of that poll says how many. Newer ones are
// decided as usual. Because they are recorded, what a feed held at its
// first poll is known for good, and anything that appears later is judged
// on its severity, whatever its date.
//
// Run one poller per app at a time (for the Lambda: reserved concurrency
// 1). Two overlapping polls could both start a build for the same pending
// advisories; that is harmless for yum (an applied advisory is a no-op) but
// wastes a build.
package alas
