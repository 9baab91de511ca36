/// The dashboard served at `/`: one self-contained page (inline CSS and vanilla JavaScript, no CDN, no
/// bundler) that shows every Canary's phase, weights, verdicts, charts and events, follows `/events`
/// live, and steers rollouts through the API.
///
/// Elements carry stable `data-*` attributes (`data-canary`, `data-phase`, `data-canary-weight`,
/// `data-chart`, `data-action`...) that scripts and the browser test query.
///
/// The page is `dashboard.html` beside this file, embedded at build time (the `EmbedText` plugin): a real file
/// to edit, one binary to ship.
public enum DashboardPage {
    public static let html = EmbeddedText.dashboard
}
