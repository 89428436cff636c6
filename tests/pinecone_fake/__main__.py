"""``python -m pinecone_fake --port N [--visibility-delay SECONDS]``: serve until killed."""

from __future__ import annotations

import argparse

from pinecone_fake.server import PineconeHTTPServer


def main() -> None:
    parser = argparse.ArgumentParser(description="a local server speaking Pinecone's REST API (for tests)")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--visibility-delay", type=float, default=0.02)
    args = parser.parse_args()
    server = PineconeHTTPServer(args.port, args.visibility_delay)
    print(f"pinecone fake listening on 127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
