"""A campaign worker as its own process, for the crash and rate tests: ``python campaign_worker.py
JOURNAL CAMPAIGN BASE_URL WORKER_ID [--lanes N] [--batch N] [--lease S] [--rate R]``.

It prints ``started`` once its journal is open, and exits 0 when the campaign has nothing left.
"""

from __future__ import annotations

import argparse
import asyncio

from mysms_async import MySMSClient
from mysms_async.campaigns import Journal
from mysms_async.testing import DEMO_PASSWORD, DEMO_SENDER, DEMO_USERNAME


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("journal")
    parser.add_argument("campaign")
    parser.add_argument("base_url")
    parser.add_argument("worker")
    parser.add_argument("--lanes", type=int, default=2)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--lease", type=float, default=1.5)
    parser.add_argument("--rate", type=float, default=None)
    args = parser.parse_args()
    client = MySMSClient(
        DEMO_USERNAME,
        DEMO_PASSWORD,
        sender=DEMO_SENDER,
        base_url=args.base_url,
        batch_size=args.batch,
        max_concurrency=args.lanes,
        retry_backoff=0.02,
        timeout=10,
    )
    with Journal(args.journal) as journal:
        campaign = journal.campaign(args.campaign)
        print("started", flush=True)
        async with client:
            await campaign.run(
                client,
                batch_size=args.batch,
                lanes=args.lanes,
                lease=args.lease,
                worker_id=args.worker,
                rate_limit=args.rate,
            )


if __name__ == "__main__":
    asyncio.run(main())
