"""A local server speaking Pinecone's documented REST API (control and data plane), for tests.

It exists so the real ``pinecone`` SDK can be driven end to end here (Pinecone itself cannot run on
these machines). Storage and scoring are the vecbridge reference engine (``vecbridge.memory``);
Pinecone's filter language is evaluated by :mod:`pinecone_fake.filters`, which takes the least
favourable reading wherever the Pinecone docs leave a point open (``$ne``/``$nin`` never match a
missing field). Writes become visible only after a delay and report LSN headers, so the adapter's
read-your-writes logic is exercised. Run it with ``python -m pinecone_fake --port N``.
"""
