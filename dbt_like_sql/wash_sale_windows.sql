-- Wash-sale windows per household and group of substantially identical securities,
-- active on the date (window_start <= as_of <= window_end, window_end = trade + 30 days):
-- * a sell at a loss in a taxable account blocks buys of the group in every account of
--   the household, IRAs and Roths included;
-- * a buy in any account of the household blocks loss sales of the group (in its
--   taxable accounts; losses inside IRAs and Roths have no tax effect and open nothing).
with trades as (
    select
        t.transaction_id,
        t.account_id,
        t.security_id,
        t.trade_date,
        t.type,
        t.realized_gain,
        a.household_id,
        a.registration,
        coalesce(sec.identical_group, sec.security_id) as identical_group
    from transactions as t
    join accounts as a on t.account_id = a.account_id
    join securities as sec on t.security_id = sec.security_id
    where t.type in ('buy', 'sell') and t.trade_date is not null
),

windows as (
    select
        trades.household_id,
        trades.identical_group,
        'buy' as blocks,
        trades.trade_date as window_start,
        trades.trade_date + 30 as window_end,
        trades.account_id as source_account_id,
        trades.security_id as source_security_id,
        trades.transaction_id as source_transaction_id
    from trades
    where trades.type = 'sell' and trades.realized_gain < 0 and trades.registration = 'taxable'
    union all
    select
        trades.household_id,
        trades.identical_group,
        'loss_sale' as blocks,
        trades.trade_date as window_start,
        trades.trade_date + 30 as window_end,
        trades.account_id as source_account_id,
        trades.security_id as source_security_id,
        trades.transaction_id as source_transaction_id
    from trades
    where trades.type = 'buy'
)

select
    w.household_id,
    w.identical_group,
    w.blocks,
    w.window_start,
    w.window_end,
    w.source_account_id,
    w.source_security_id,
    w.source_transaction_id
from windows as w
join run_context as ctx on w.window_start <= ctx.as_of and ctx.as_of <= w.window_end
order by
    w.household_id, w.identical_group, w.blocks, w.window_start,
    w.source_account_id, w.source_transaction_id
