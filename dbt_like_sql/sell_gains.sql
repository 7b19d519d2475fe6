-- The realized gain of every sell, from the first source that knows it (gain_source):
-- 1. delivered_gain: the gain the custodian sent (many leave it empty);
-- 2. delivered_cost_basis: quantity x price less the delivered basis of the shares sold;
-- 3. lot_cost_basis: quantity x price less the basis of the lot sold pro rata to the
--    shares sold, the lot as the lots file of the business day before the sale listed it
--    (sold_lots: a fully sold lot is gone from today's file), else as today's lots list
--    it (a partly sold lot keeps its per-share basis); lot rows without a usable
--    quantity and basis do not count;
-- 4. unknown: none of them (realized_gain null).
with sold as (
    -- the lots sells name: only their rows can give a basis (a book's lots are many)
    select distinct t.account_id, t.lot_id
    from transactions as t
    where t.type = 'sell'
),

lot_files as (
    -- the lot rows a basis may come from, each with the date of its lots file
    select
        sl.file_date,
        sl.account_id,
        sl.lot_id,
        sl.quantity,
        sl.cost_basis,
        sl.source_file,
        sl.source_row
    from sold_lots as sl
    join sold as s on sl.account_id = s.account_id and sl.lot_id = s.lot_id
    union all
    select
        ctx.as_of as file_date,
        l.account_id,
        l.lot_id,
        l.quantity,
        l.cost_basis,
        l.source_file,
        l.source_row
    from lots as l
    join sold as s on l.account_id = s.account_id and l.lot_id = s.lot_id
    cross join run_context as ctx
),

lot_bases as (
    -- one row per lots file and lot (the first, should a file repeat a lot)
    select
        ranked.file_date,
        ranked.account_id,
        ranked.lot_id,
        ranked.quantity,
        ranked.cost_basis
    from (
        select
            lf.file_date,
            lf.account_id,
            lf.lot_id,
            lf.quantity,
            lf.cost_basis,
            row_number() over (
                partition by lf.file_date, lf.account_id, lf.lot_id
                order by lf.source_file, lf.source_row, lf.quantity, lf.cost_basis
            ) as file_rank
        from lot_files as lf
        where lf.quantity > 0 and lf.cost_basis is not null
    ) as ranked
    where ranked.file_rank = 1
),

sells as (
    select
        t.transaction_id,
        t.account_id,
        t.security_id,
        t.trade_date,
        t.quantity,
        t.price,
        t.lot_id,
        t.realized_gain as delivered_gain,
        t.quantity * t.price - t.cost_basis as gain_from_cost_basis,
        t.quantity * t.price - case
            when prior.quantity is not null then prior.cost_basis * t.quantity / prior.quantity
            when today.quantity is not null then today.cost_basis * t.quantity / today.quantity
        end as gain_from_lot
    from transactions as t
    cross join run_context as ctx
    asof left join lot_bases as prior
        on t.account_id = prior.account_id
        and t.lot_id = prior.lot_id
        and t.trade_date > prior.file_date
    left join lot_bases as today
        on t.account_id = today.account_id
        and t.lot_id = today.lot_id
        and today.file_date = ctx.as_of
    where t.type = 'sell'
)

select
    s.transaction_id,
    s.account_id,
    s.security_id,
    s.trade_date,
    s.quantity,
    s.price,
    s.lot_id,
    coalesce(s.delivered_gain, s.gain_from_cost_basis, s.gain_from_lot) as realized_gain,
    case
        when s.delivered_gain is not null then 'delivered_gain'
        when s.gain_from_cost_basis is not null then 'delivered_cost_basis'
        when s.gain_from_lot is not null then 'lot_cost_basis'
        else 'unknown'
    end as gain_source
from sells as s
order by
    s.account_id, s.transaction_id, s.trade_date, s.security_id, s.lot_id, s.quantity,
    s.price, realized_gain
