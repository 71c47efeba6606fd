package web

// texts are the page's words in one language.
type texts struct {
	Title, Welcome, Intro, Plan, PerMonth, RegionNote, SignIn, SignOut, SignedInAs, CheckedBy,
	Theme, Latest, NoPosts, CardTitle, CardText, Footer string
}

// translations holds the texts of each of [Languages], by base language.
var translations = map[string]texts{
	"en": {
		Title: "headroom lab", Welcome: "Welcome to the lab",
		Intro: "A small blog platform with the classic performance mistakes behind switches, measured end to end.",
		Plan:  "Pro plan", PerMonth: "per month", RegionNote: "Prices for region",
		SignIn: "Sign in as a demo user", SignOut: "Sign out", SignedInAs: "Signed in as", CheckedBy: "checked by",
		Theme: "Theme", Latest: "Latest posts", NoPosts: "No posts yet.",
		CardTitle: "Edge or origin?", CardText: "This page is cacheable for a minute: an edge in front answers it without asking the origin.",
		Footer: "Served by the origin, cacheable for 60 s.",
	},
	"fr": {
		Title: "labo headroom", Welcome: "Bienvenue au labo",
		Intro: "Une petite plateforme de blog, avec ses erreurs de performance classiques derrière des interrupteurs, mesurées de bout en bout.",
		Plan:  "Formule Pro", PerMonth: "par mois", RegionNote: "Prix pour la région",
		SignIn: "Se connecter (utilisateur de démo)", SignOut: "Se déconnecter", SignedInAs: "Connecté en tant que", CheckedBy: "vérifié par",
		Theme: "Thème", Latest: "Derniers articles", NoPosts: "Aucun article pour l’instant.",
		CardTitle: "Edge ou origine ?", CardText: "Cette page peut être mise en cache une minute : un edge placé devant y répond sans interroger l’origine.",
		Footer: "Servi par l’origine, cacheable 60 s.",
	},
	"de": {
		Title: "headroom-Labor", Welcome: "Willkommen im Labor",
		Intro: "Eine kleine Blog-Plattform, ihre klassischen Performance-Fehler hinter Schaltern, von Ende zu Ende gemessen.",
		Plan:  "Pro-Tarif", PerMonth: "pro Monat", RegionNote: "Preise für die Region",
		SignIn: "Als Demo-Benutzer anmelden", SignOut: "Abmelden", SignedInAs: "Angemeldet als", CheckedBy: "geprüft von",
		Theme: "Design", Latest: "Neueste Beiträge", NoPosts: "Noch keine Beiträge.",
		CardTitle: "Edge oder Ursprung?", CardText: "Diese Seite ist eine Minute cachebar: ein Edge davor beantwortet sie, ohne den Ursprungsserver zu fragen.",
		Footer: "Vom Ursprungsserver ausgeliefert, 60 s cachebar.",
	},
	"ja": {
		Title: "headroom ラボ", Welcome: "ラボへようこそ",
		Intro: "小さなブログ基盤。典型的な性能の落とし穴をスイッチで切り替え、端から端まで計測します。",
		Plan:  "プロプラン", PerMonth: "月額", RegionNote: "価格の地域",
		SignIn: "デモユーザーでサインイン", SignOut: "サインアウト", SignedInAs: "サインイン中:", CheckedBy: "確認元",
		Theme: "テーマ", Latest: "最新の投稿", NoPosts: "まだ投稿はありません。",
		CardTitle: "エッジかオリジンか", CardText: "このページは 1 分間キャッシュできます。前段のエッジはオリジンに問い合わせずに応答します。",
		Footer: "オリジンから配信、60 秒キャッシュ可能。",
	},
}

// homeTemplate is the page. Its first line after the doctype is the <html> tag with lang and no
// data-theme, which an edge's preference function may add.
const homeTemplate = `<!doctype html>
<html lang="{{.Lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.T.Title}}</title>
<link rel="icon" type="image/png" href="{{.Icon}}">
<link rel="stylesheet" href="{{.CSS}}">
<script src="{{.JS}}" defer></script>
</head>
<body>
<header class="top">
  <div class="brand"><img src="{{.Icon}}" width="32" height="32" alt="">{{.T.Title}}</div>
  <nav>
    <a href="/api/feed">feed</a><a href="/api/posts">posts</a>
    <button id="theme" class="ghost" type="button">{{.T.Theme}}</button>
  </nav>
</header>
<main>
  <section class="hero">
    <img src="{{.Hero}}" width="1200" height="480" alt="">
    <h1>{{.T.Welcome}}</h1>
  </section>
  <p>{{.T.Intro}}</p>
  <div class="grid">
    <section class="card">
      <h2>{{.T.Plan}}</h2>
      <p class="price" data-price-cents="{{.PriceMinor}}" data-currency="{{.Currency}}">{{.Price}}</p>
      <p class="muted">{{.T.PerMonth}} · {{.T.RegionNote}} {{.Region}} ({{.Currency}})</p>
      <button id="signin" type="button">{{.T.SignIn}}</button>
      <p id="me" hidden>{{.T.SignedInAs}} <strong id="me-name"></strong> ({{.T.CheckedBy}} <span id="me-source"></span>)
        <button id="signout" class="ghost" type="button">{{.T.SignOut}}</button></p>
    </section>
    <section class="card">
      <img src="{{.Card}}" width="640" height="360" alt="">
      <h2>{{.T.CardTitle}}</h2>
      <p class="muted">{{.T.CardText}}</p>
    </section>
    <section class="card">
      <h2>{{.T.Latest}}</h2>
      {{- if .Posts}}
      <ul>
        {{- range .Posts}}
        <li><a href="/api/posts/{{.ID}}">{{.Title}}</a></li>
        {{- end}}
      </ul>
      {{- else}}
      <p class="muted">{{.T.NoPosts}}</p>
      {{- end}}
    </section>
  </div>
</main>
<footer>{{.T.Footer}}</footer>
</body>
</html>
`
