// Package bounce classifies the diagnostic text of a bounced or deferred
// message into a reason and a hard or soft verdict.
//
// The reasons are the vocabulary of sisimai, the reference bounce classifier
// (userunknown, mailboxfull, blocked and so on), so that verdicts can be
// compared with its labels and with other tools that use the same names.
//
// [Classify] weighs the evidence in this order:
//
//  1. The Customers Mail Cloud (CMC) bounce status, when the webhook carries
//     one. A specific status (user unknown, mailbox full) is the vendor's
//     verdict and is kept, unless the text shows that the sender was refused,
//     because a false hard bounce would suppress a working address. A generic
//     status (rejected, server error, other) is refined by the text.
//  2. The wording, matched against one ordered table of patterns written for
//     the large providers (Google, Microsoft, Yahoo, Apple iCloud, the
//     Japanese carriers and ISPs) and the common MTAs (Postfix, Exim,
//     Sendmail, qmail, Exchange). Specific wording outranks every code, so
//     that a rate limit sent with 5.1.1 or a block list hit sent with 5.7.1 is
//     not taken for a missing user.
//  3. The RFC 3463 enhanced status code (class, subject and detail).
//  4. Generic wording, which yields to a specific enhanced status code.
//  5. The SMTP reply code.
//
// The SMTP step named in the text then adjusts the reason. A user-unknown
// reply after DATA comes from a content filter (filtered). A rejection after
// MAIL FROM is about the sender (rejected), and one at the initial
// connection is about the sending host (blocked).
//
// A verdict is hard when sending to the recipient again is pointless:
// userunknown, hostunknown, hasmoved, suppressed, and notaccept unless the
// server answered with a 4xx code. Every other reason is soft, including the
// sender's own problems (reputation, policy, rate, content), which a later
// attempt or a fix on the sending side can cure.
//
// The package has no state besides its compiled pattern table, and
// [Classify] is safe for concurrent use.
package bounce
