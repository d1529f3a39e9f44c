package bounce

import "regexp"

// pattern is one row of the wording table.
type pattern struct {
	reason Reason
	// words are lowercase substrings, and the row matches when any one of
	// them occurs in the lowercased text.
	words []string
	// re, when set, must also match the lowercased text. The words then act
	// as a cheap filter in front of it.
	re *regexp.Regexp
	// weak marks generic wording that a specific enhanced status code
	// outranks, such as a bare "access denied".
	weak bool
	// ambiguous marks user-unknown wording that MTAs and content filters
	// also write after DATA. Such a match counts as userunknown only with
	// evidence that the recipient was refused at RCPT TO. See refineUserUnknown.
	ambiguous bool
	// server names the kind of server whose message the row matches.
	server string
}

// patterns is the wording table, in priority order. The first matching row
// decides, unless it is weak and the enhanced status code names a reason
// (see classifyText). Exceptions that contain misleading words come first, then the
// sender's problems, the recipient's, transport failures and generic
// wording. All words are lowercase because the text is lowercased once.
var patterns = []pattern{
	// Local delivery: the message reached the host, but a program failed.
	{reason: MailerError, words: []string{"pipe to |", "procmail:", "mailer error", "x-unix;", "operating system error"},
		server: "Exim, Postfix and Sendmail local delivery agents"},
	{reason: SystemError, words: []string{"unable to contact ldap", "duplicated message-id", "queue file write error", "internal system error"},
		server: "qmail LDAP lookups, mailing list managers, Postfix cleanup"},

	// Wording that contains words of other reasons ("blacklisted", "retry
	// timeout", "spf", "rate", "user unknown").
	{reason: HostUnknown, words: []string{"account or domain may not exist", "存在しないドメイン", "ドメインが存在しません", "ドメインが見つかりません"},
		server: "cPanel Exim, Japanese ISPs"},
	{reason: Rejected, words: []string{"address that has been blacklisted", "sender address blacklisted", "sender is blacklisted"},
		server: "Exim sender ACLs"},
	{reason: Speeding, words: []string{"sending quota", "relay quota", "sending limit"},
		server: "hosting providers' outbound limits, which would otherwise read as a full mailbox"},
	{reason: SpamDetected, words: []string{"blacklisted url", "uribl", "spam classification", "scored as spam"},
		server: "IMail URI block lists, Google Groups, SpamAssassin-based filters"},
	{reason: MailboxFull, words: []string{"mailbox is full", "mailbox full", "mailbox is over quota"},
		server: "Exim appendfile, Sendmail, Postfix virtual, most MTAs"},
	{reason: Suspend, words: []string{"account is disabled", "account has been disabled", "disabled or discontinued", "account is inactive", "is inactive.", "tried to reach is inactive", "tried to reach is disabled", "disableduser", "mailbox is frozen", "disabled recipient", "account has been suspended", "account is suspended", "mailbox is disabled", "mailbox disabled"},
		server: "au/KDDI ezweb, Yahoo, OCN and other ISPs, Gmail, i.ua"},
	{reason: MailboxFull, words: []string{"out of storage space", "overquota", "over quota", "quota exceeded", "exceeded storage", "exceeds allowed size", "inbox is full", "mailbox size limit", "user's mailbox is full", "容量超過", "容量オーバー", "メールボックスがいっぱい", "メールボックスの容量"},
		server: "Gmail, Exchange, IMail, Courier, Dovecot, Japanese ISPs"},
	{reason: NetworkError, words: []string{"dns query failed", "dns error:", "host not found, try again", "malformed or unexpected name server reply"},
		server: "Exchange Online 5.4.312, Google DNS lookups, Postfix temporary DNS failures"},
	{reason: Expired, words: []string{"retry timeout exceeded", "queue too long", "queue.expired", "message expired", "envelope expired", "could not be delivered for", "unable to deliver this message after", "deleted from queue", "failing for a long time", "has been delayed", "will be retried", "delivery time expired", "retry time not reached", "giving up.", "did not accept our requests to connect", "unable to connect successfully", "配信期限"},
		server: "Exim, qmail, Sendmail, Postfix, OpenSMTPD, Exchange, Gmail delay notices"},

	// The sending rate, the number of connections and the sender's reputation.
	{reason: BadReputation, words: []string{"reputation"},
		re:     regexp.MustCompile(`(?:low|poor|bad|ip|sender|domain|sending) reputation|reputation of the sending|reputation (?:is|too) low`),
		server: "Gmail, Microsoft 4.7.650, Cloudmark and Proofpoint"},
	{reason: TooManyConn, words: []string{"too many connections", "connection rate limit", "frequency limited", "too many concurrent", "concurrent connections", "connection limit", "too many smtp sessions", "too many sessions"},
		server: "Postfix anvil, Tencent QQ, Exim, Yahoo"},
	{reason: Speeding, words: []string{"too many recipients this hour", "has sent to too many", "rate limit", "ratelimit", "rate-limit", "too many messages", "sending rate", "receiving mail at a rate", "exceeded the rate", "throttl", "too fast"},
		server: "GoDaddy, Gmail, Microsoft, Yahoo, SendGrid"},

	// Authentication of the sender's domain.
	{reason: AuthFailure, words: []string{"dmarc", "spf check", "pass spf", "spf record", "spf validation", "spf fail", "dkim", "unauthenticated", "authentication checks", "authentication information", "sender policy framework", "domainkeys"},
		server: "Gmail 5.7.26, Microsoft 5.7.509, Tencent QQ, Yahoo"},
	{reason: RequirePTR, words: []string{"ptr record", "reverse dns", "reverse hostname", "rdns", "cannot find your hostname", "ip name lookup failed", "mismatches client ip", "unverifyable sending ip", "unverifiable sending ip", "no ptr", "reverse lookup", "逆引き"},
		server: "Gmail 5.7.25, Comcast, Postfix reject_unknown_client_hostname, Outlook, Sendmail"},
	{reason: NotCompliantRFC, words: []string{"rfc 5322", "rfc5322", "rfc 2822", "rfc2822", "not rfc", "multiple addresses in from", "multiple subject", "multiple from", "header are not accepted"},
		server: "Gmail 5.7.1 RfcMessageNonCompliant"},

	// The sending host is refused, usually because of a block list.
	{reason: SpamDetected, words: []string{"mail rejete"},
		server: "Orange and Wanadoo content filter (French)"},
	{reason: Blocked, words: []string{"blocked using", "block list", "blocklist", "blacklist", "dnsbl", "spamhaus", "spamcop", "sorbs.net", "barracudacentral", "banned sending ip", "client host blocked", "blocked for abuse", "ip blocked", "not accepting connections", "refused to talk to me", "use the smtp server of your isp", "dynamic ip", "dynamic address", "dial-up", "dialup", "residential", "invalid ip for sending", "traffic not accepted from this ip", "bloquee", "(bl)", "ip is listed", "ip address is listed", "your ip", "connection refused"},
		server: "Postfix and Exim RBL checks, Microsoft S3140 and 5.7.606, Proofpoint, Spamhaus, Orange, Japanese ISPs (OP25B)"},
	{reason: Blocked, words: []string{"rbl", "sc-00", "dy-00", "ou-00"},
		re:     regexp.MustCompile(`rbl\b|\b(?:sc|dy|ou)-00\d\b`),
		server: "Cox AUP#...RBL codes, Hotmail SC-001, DY-001 and OU-001"},
	{reason: SpamDetected, words: []string{"ube"}, re: regexp.MustCompile(`\bube\b`),
		server: "Barracuda and amavisd (unsolicited bulk email)"},
	{reason: SpamDetected, words: []string{"spam", "unsolicited", "junk mail", "bulk mail", "迷惑メール"},
		server: "SpamAssassin, Orange, Google Workspace, most filters"},
	{reason: VirusDetected, words: []string{"virus", "malware", "infected", "ウイルス"},
		server: "Postfix with ClamAV, Exchange, most filters"},

	// Policy, authentication of the SMTP client, relaying, the sender address.
	{reason: SecurityError, words: []string{"smtp authentication", "authentication required", "authrequired", "without authentication", "must be authenticated", "authentication is required", "not authenticated"},
		server: "MessageLabs, Exchange RESOLVER.RST.AuthRequired"},
	{reason: NoRelaying, words: []string{"relay access denied", "relaying denied", "not configured to relay", "relay not permitted", "unable to relay", "we do not relay", "relaying not allowed", "relay denied", "address is not verified", "not allowed to relay", "no relaying"},
		server: "Postfix, Sendmail, Exchange, Amazon SES identity checks"},
	{reason: FailedSTARTTLS, words: []string{"starttls", "does not support tls", "tls required", "tls is required", "requires tls", "tls negotiation", "tls handshake"},
		server: "Gmail, Postfix, Exchange"},
	{reason: Rejected, words: []string{"sender address rejected", "sender rejected", "domain of sender address", "sender domain", "sender verify failed", "sender verification", "purported responsible address", "not a member of this mailing list", "send mail as", "user complaints", "groups.google.com", "permission to post", "sender was rejected", "mail from address", "all recipient addresses rejected", "sender is not allowed", "envelope sender"},
		server: "Postfix and Sendmail sender checks, Courier, Yahoo TSS04, Google Groups and Workspace, FML"},
	{reason: PolicyViolation, words: []string{"policy reasons", "local policy", "denied by policy", "policy violation", "protocol violation", "message not allowed", "network not allowed", "administrative prohibition", "header error", "greylist", "graylist", "violates"},
		server: "Yahoo 5.7.9, Exim ACLs, Mimecast, Postfix header_checks"},

	// The recipient's side.
	{reason: HasMoved, words: []string{"no longer on server", "has moved", "user has moved", "address has changed", "mailbox has moved", "no longer at this address"},
		server: "Apple iCloud 5.1.6, Sendmail 551"},
	{reason: ExceedLimit, words: []string{"recipsizelimit", "too large for this recipient", "exceeds recipient", "message exceeds the recipient"},
		server: "Exchange RESOLVER.RST.RecipSizeLimit"},
	{reason: MesgTooBig, words: []string{"message too large", "message too big", "message is too large", "message is too big", "message size exceeds", "size exceeds", "size limit exceeded", "exceeds the maximum size", "exceeds size limit", "message length exceeds", "line limit exceeded", "larger than the", "size exceeded", "サイズ"},
		server: "Sendmail, Postfix, 1&1, Exim, Exchange"},
	{reason: UserUnknown, words: []string{"doesn't have a", "does not have a"},
		re:     regexp.MustCompile(`(?:doesn't|does not) have an? \S+ account`),
		server: "Yahoo delivery error: dd"},
	{reason: UserUnknown, words: []string{"no mailbox here by that name", "recipnotfound", "recipientnotfound", "recipient not found", "address not found", "address couldn't be found", "tried to reach does not exist", "not listed in", "invalid recipient", "invalid user address", "invalid final delivery userid", "no valid recipients", "address does not exist", "user does not exist", "mailbox does not exist", "account does not exist", "no such mailbox", "mailbox not found", "unknown or illegal", "check if address is correct", "recipient address rejected: access denied", "no such recipient", "mailbox unavailable or not local", "宛先不明", "存在しない", "存在しません"},
		server: "Gmail NoSuchUser, Exchange RESOLVER.ADR, Microsoft DBEB, qmail chkusr, Domino, Notes, iCloud, Facebook, Verizon, Japanese carriers"},
	{reason: UserUnknown, words: []string{"user unknown", "unknown user", "no such user", "user not exist", "unknown recipient", "user not found", "unknown address"},
		ambiguous: true,
		server:    "Sendmail, Postfix, qmail, Exim, Courier, docomo, au, SoftBank, content filters (McAfee, mFILTER)"},
	{reason: HostUnknown, words: []string{"host unknown", "unknown host", "no such domain", "domain not found", "domain does not exist", "unrouteable address", "unroutable address", "host not found", "nxdomain", "couldn't find any host", "non-existent host", "no such host", "domain name not found"},
		server: "Sendmail, Postfix, Exim, Courier, qmail"},
	{reason: HostUnknown, words: []string{"does not exist"},
		re:     regexp.MustCompile(`(?:^|[\s:<\[])[a-z0-9-]+(?:\.[a-z0-9-]+)+\.? does not exist`),
		server: "Exim and Sendmail naming the recipient domain"},
	{reason: NotAccept, words: []string{"does not accept mail", "no smtp service", "couldn't find a mail exchanger", "null mx", "accepts no mail", "not accept mail"},
		server: "Postfix and Exim null MX (RFC 7505), qmail"},
	{reason: Filtered, words: []string{"message filtered", "rejected by a remote mail server", "content filter", "filtered", "受信拒否"},
		server: "au/KDDI ezweb, Amazon SES receiving, Japanese carriers' reception settings"},

	// Transport and the receiving system.
	{reason: NetworkError, words: []string{"no route to host", "host name lookup failure", "name service error", "too many hops", "hop count exceeded", "mail loop", "is looping", "routing loop", "loop detected", "forwarded more than the maximum", "network is unreachable", "connection reset"},
		server: "Postfix, Sendmail, Exchange"},
	{reason: Expired, words: []string{"timed out", "timeout"},
		server: "Postfix, SendGrid, Yandex connection attempts"},
	{reason: SystemFull, words: []string{"insufficient disk space", "insufficient system storage", "disk full", "out of disk space", "no space left"},
		server: "Sendmail, Postfix"},
	{reason: SystemError, words: []string{"system error", "transaction failed", "service currently unavailable", "temporary local problem", "local error in processing", "server configuration"},
		server: "Sendmail, Postfix, most MTAs"},
	{reason: ContentError, words: []string{"headers too large", "header too large", "header line too long", "invalid mime", "content rejected", "invalid content", "8-bit"},
		server: "Sendmail, Exim"},
	{reason: SyntaxError, words: []string{"improper sequence", "bad sequence", "syntax error", "malformed address", "command unrecognized", "command not recognized"},
		server: "Sendmail, Exim, Postfix"},

	// Generic wording, outranked by a specific enhanced status code.
	{reason: SystemError, words: []string{"service unavailable", "service not available", "service refuse", "try again later", "temporarily unavailable"}, weak: true,
		server: "Sendmail, Postfix, Orange, most MTAs"},
	{reason: SecurityError, words: []string{"access denied"}, weak: true,
		server: "Gmail-relayed replies, Exchange"},
	{reason: Blocked, words: []string{"client host rejected", "not allowed to send", "blocked"}, weak: true,
		server: "Postfix smtpd_client_restrictions, most MTAs"},
	{reason: UserUnknown, words: []string{"recipient address rejected", "address rejected"}, weak: true, ambiguous: true,
		server: "Postfix smtpd_recipient_restrictions, au/KDDI"},
	{reason: PolicyViolation, words: []string{"not allowed", "not accepted", "prohibited"}, weak: true,
		server: "most MTAs"},
}
